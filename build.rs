//! Builds the lab's C libraries (csrc/), links the system libraries the lab
//! binds (libsqlite3, through pkg-config) and, with the `bindgen` feature,
//! regenerates their raw Rust bindings. Compiling and binding are separate
//! steps in separate files, so a fresh machine needs a C compiler (and the
//! system libraries' development packages) only: the bindings are committed
//! in src/sys/bindings.rs and src/sys/sqlite_bindings.rs.

#[path = "build/bindings.rs"]
mod bindings;
#[path = "build/compile.rs"]
mod compile;
#[path = "build/sqlite.rs"]
mod sqlite;

fn main() {
    let sqlite_includes = sqlite::link();
    bindings::generate_if_enabled(&sqlite_includes);
    compile::compile_c_libraries(&sqlite_includes);
}

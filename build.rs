//! Builds the lab's C libraries (csrc/) and, with the `bindgen` feature,
//! regenerates their raw Rust bindings. Compiling and binding are separate
//! steps in separate files, so a fresh machine needs a C compiler only:
//! the bindings are committed in src/sys/bindings.rs.

#[path = "build/bindings.rs"]
mod bindings;
#[path = "build/compile.rs"]
mod compile;

fn main() {
    bindings::generate_if_enabled();
    compile::compile_c_libraries();
}

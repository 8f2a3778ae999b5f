//! Raw FFI to the lab's C libraries: the bindgen output committed in
//! `bindings.rs` (the connector) and `<library>_bindings.rs` (each system
//! library of build/library_table.rs, in its own module; SQLite's is bound
//! from the header of the SQLite that libsqlite3-sys bundles), included here
//! and nowhere else, so the lints that generated code needs are allowed in
//! this one module only.
//!
//! Regenerate with `LEAKLAB_WRITE_BINDINGS=1 cargo build --features bindgen`
//! (needs libclang); `tests/bindings_fresh.rs` checks the committed files
//! against fresh output.

#![allow(
    non_camel_case_types,
    non_snake_case,
    non_upper_case_globals,
    dead_code,
    unsafe_op_in_unsafe_fn,
    clippy::all
)]

include!("bindings.rs");

// The system libraries of build/library_table.rs, one module each
// (`sqlite`, `zlib`, `libxml2`) over its committed `<module>_bindings.rs`.
// Under Miri nothing calls them: Miri cannot call C, and they have no model.
include!(concat!(env!("OUT_DIR"), "/sys_libraries.rs"));

// SQLite is compiled from the amalgamation libsqlite3-sys bundles and linked
// by that crate (build/library_table.rs); `sqlite` above declares the part
// the lab binds. Naming the crate is what links its static library in.
use libsqlite3_sys as _;

/// Under Miri, which cannot call C: the same API defined in Rust.
#[cfg(miri)]
pub(crate) mod model;

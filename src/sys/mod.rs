//! Raw FFI to the lab's C libraries: the bindgen output committed in
//! `bindings.rs`, included here and nowhere else, so the lints that
//! generated code needs are allowed in this one module only.
//!
//! Regenerate with `LEAKLAB_WRITE_BINDINGS=1 cargo build --features bindgen`
//! (needs libclang); `tests/bindings_fresh.rs` checks the committed file
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

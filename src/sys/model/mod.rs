//! A Rust model of the C connector's `extern "C"` API (csrc/connector),
//! compiled only under Miri; it allocates through the user crate's
//! modelled C allocator (`leaklab::heap::modelled`), which counts.
//!
//! Miri cannot call C, so under `cfg(miri)` every function that
//! `../bindings.rs` declares is defined here with `#[unsafe(no_mangle)]`:
//! the extern declarations resolve to these Rust symbols (the technique of
//! rustls-openssl-compat's `miri.rs`). Miri then checks the safe binding's
//! pointer handling against objects laid out exactly as the C library lays
//! them out, and its leak checker sees what the leaky binding forgets.
//!
//! What the model keeps from the C library, because the bindings depend on
//! it: the public `LC` struct and its fields; the `LC_RES` layout (one block
//! of `sizeof(LC_RES)`, one of fields, the row-pointer array, one block per
//! row holding pointers, lengths and NUL-terminated values); the ownership
//! rules; the error codes, messages and check order; the row callback; the
//! compat float leak; and every caller-visible block allocated through the
//! model's `lab_malloc`, so the counters and fault injection work.
//!
//! What it does not keep: the server's internals. Parsing and execution are
//! the SQL engine's (`crate::sql`, the pure backend's too), whose table
//! lives on the Rust heap, and owed rows are kept as text rather than in a `pending_rows`
//! block, so live-block counts inside a connected handle and the exact
//! allocation number at which an injected failure hits a query differ from
//! the C library's (`lc_query` itself never runs out of memory here).
//! Everything a caller owns (results, strings, handles, statements) has the
//! C library's blocks and sizes.
//!
//! One known difference in behaviour, inherited from the SQL engine's
//! `parse`: `lc_stmt_prepare` does not check the types of literals written
//! in the query (C does, a '?' fitting any column), so such an error comes
//! from `lc_stmt_execute` instead.

// The parent module allows what generated bindings need; this is
// hand-written unsafe code, so the crate's rules apply again.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(dead_code, clippy::all)]

mod errors;
mod handle;
mod result;
mod server;
mod stmt;

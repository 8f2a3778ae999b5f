//! `libleaklab_preload.so`: the user crate's C allocator interposer
//! (`leaklab`'s heap::interpose, whose exported `malloc` family this cdylib
//! re-exports) as a shared object to put in a program's `LD_PRELOAD`, and a
//! publisher that writes the live counts into the page `leaklab watch`
//! shares with it (src/publish.rs; the layout is `leaklab`'s watch_page).
//!
//! Why a crate of its own: a cdylib with a constructor and a publisher
//! thread, neither of which belongs in a test binary that links `leaklab`.
//! `cargo-leaklab` builds it at its own build time and embeds it.
//!
//! What it counts: every `malloc` family call of the process. There is no
//! Rust global allocator here to mark Rust's own calls, so in a Rust
//! program the count includes Rust's `System` allocations too.
//!
//! What it exports: the C allocator's symbols (`malloc`, `free`, ...) and
//! nothing else; a cdylib keeps Rust's own symbols local.
#![deny(unsafe_op_in_unsafe_fn)]

mod publish;

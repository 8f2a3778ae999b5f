//! `libleaklab_preload.so`: the user crate's C allocator interposer
//! (`leaklab`'s heap::interpose, whose exported `malloc` family this cdylib
//! re-exports) as a shared object to put in a program's `LD_PRELOAD`, with
//! the interposer's publisher, which writes the live counts into the page
//! `leaklab watch` shares with it (`leaklab`'s heap/interpose/publish.rs;
//! the layout is `leaklab`'s watch_page).
//!
//! Why a crate of its own: a cdylib `cargo-leaklab` builds at its own build
//! time and embeds. The publisher is the user crate's, compiled into every
//! copy of the interposer: in a program that links `leaklab` the
//! executable's own `malloc` wins over this one, and the executable's copy
//! publishes while this one stays silent (each checks whose `malloc` the
//! process calls).
//!
//! What it counts: every `malloc` family call of the process. There is no
//! Rust global allocator here to mark Rust's own calls, so in a Rust
//! program the count includes Rust's `System` allocations too.
//!
//! What it exports: the C allocator's symbols (`malloc`, `free`, ...) and
//! nothing else; a cdylib keeps Rust's own symbols local.
#![deny(unsafe_op_in_unsafe_fn)]

// The interposer, its publisher and their constructors come from here.
extern crate leaklab;

//! `libleaklab_preload.so`: the lab's C allocator interposer
//! (src/heap/interpose.rs and its side table, compiled here by `#[path]`,
//! not copied) as a shared object to put in a program's `LD_PRELOAD`, and a
//! publisher that writes the live counts into the page `leaklab watch`
//! shares with it (preload/src/publish.rs; the layout is src/watch/layout.rs).
//!
//! Why a crate of its own and not the leaklab library with a feature: the
//! library installs a counting `#[global_allocator]` and links the lab's C
//! libraries, neither of which belongs in a program that merely loads this;
//! and a feature of the library enabled by a workspace member would be
//! enabled for the whole workspace's build (cargo unifies features), taking
//! the counting allocator out of the lab itself.
//!
//! What it counts: every `malloc` family call of the process. There is no
//! Rust global allocator here to mark Rust's own calls, so in a Rust
//! program the count includes Rust's `System` allocations too.
//!
//! What it exports: the C allocator's symbols (`malloc`, `free`, ...) and
//! nothing else; a cdylib keeps Rust's own symbols local.
#![deny(unsafe_op_in_unsafe_fn)]

mod heap;
mod publish;
// The watcher's half of the layout (reading, the variable's Rust name) has
// no caller in the shim.
#[allow(dead_code)]
#[path = "../../src/watch/layout.rs"]
mod layout;

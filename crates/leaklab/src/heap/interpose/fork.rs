//! Fork safety: `pthread_atfork` handlers that take every shard of the side
//! table before a fork and release them after it, in the parent and in the
//! child (as glibc's malloc/arena.c does for its arenas), so the child never
//! starts with a shard locked by a thread it does not have.
//!
//! They are registered once, by the first call that enters the interposer
//! (the process's first `malloc`, long before `main`), without allocating:
//! glibc keeps the first 48 handlers of a process in a static array. That
//! early, they are among the first registered, so their prepare handler
//! runs after those of the libraries loaded later (prepare handlers run in
//! reverse order of registration): a library that takes its own lock in its
//! prepare handler and allocates while holding it elsewhere waits for the
//! shards in the same order everywhere. The order matters for a handler
//! that waits for a thread which may be waiting for a shard: the preload
//! shim's waits for its publisher to finish a sum of the shards, so it
//! must run first, and the shim calls [`register_once`] before it
//! registers its own.
//!
//! From the prepare handler to the parent or child handler the forking
//! thread counts as inside the interposer (`Thread::fork_enter`):
//! an allocation by a later prepare handler on that thread is a re-entry,
//! forwarded and recorded as untracked, never a wait on the shards it holds.

use std::sync::atomic::{AtomicU8, Ordering::Acquire, Ordering::Relaxed, Ordering::Release};

use super::guard::{self, Thread};
use super::table;

const NONE: u8 = 0;
const REGISTERING: u8 = 1;
const DONE: u8 = 2;

static STATE: AtomicU8 = AtomicU8::new(NONE);

/// Registers the handlers, once per process. A thread that finds another
/// one registering goes on without waiting (a fork in that instant, during
/// the process's first allocations, is the one not covered). Called by the
/// first entry into the interposer, and by whoever registers a handler of
/// its own that must run before these.
#[inline]
pub fn register_once() {
    if STATE.load(Acquire) == DONE {
        return;
    }
    if STATE
        .compare_exchange(NONE, REGISTERING, Acquire, Relaxed)
        .is_ok()
    {
        // SAFETY: three plain `extern "C" fn()`s that stay valid for the
        // life of the process; glibc stores them in a static array.
        unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) };
        STATE.store(DONE, Release);
    }
}

extern "C" fn prepare() {
    let thread = Thread::current();
    thread.fork_enter();
    table::fork_begin();
    thread.set_fork_held(table::lock_all(guard::me()));
}

extern "C" fn parent() {
    let thread = Thread::current();
    table::unlock_all(guard::me(), thread.fork_held());
    table::fork_end(false);
    thread.fork_leave();
}

extern "C" fn child() {
    let thread = Thread::current();
    table::unlock_all(guard::me(), thread.fork_held());
    table::fork_end(true);
    thread.fork_leave();
}

//! The interposer's per-thread state: whether the thread is inside the
//! interposer already (the reentrancy guard), the frees it had to put off,
//! and its counts.
//!
//! Reentrancy: a signal handler that calls `malloc` or `free` on a thread
//! the signal interrupted inside the interposer (in the middle of a side
//! table update, a shard's spin lock held) must not wait on that lock: its
//! own thread holds it and cannot release it until the handler returns.
//! [`Thread::enter`] tells the two apart. A re-entered call never waits for
//! a shard ([`super::table::Wait::Never`]): where its shard is free (not
//! the one the interrupted frame holds, nor one another thread holds right
//! then) it updates the table as usual, so most of a handler's calls are
//! counted exactly, their share of the thread's counts going through
//! atomics here ([`Thread::add_delta`]) that the outermost frame adds up as
//! it leaves. Where the shard is held, an allocation is forwarded to glibc
//! and recorded as untracked (counted in `Stats::untracked` and the
//! thread's count, and remembered in [`super::untracked`] so its later
//! `free` is no foreign free), and a free of a block the table knows is put
//! off ([`Thread::push_pending`]) until the thread leaves the interposer,
//! which then completes it ([`super::leave`]). The block stays allocated
//! until then, so its address cannot be handed out and recorded again
//! meanwhile.
//!
//! The state is a `thread_local!` with a `const` initialiser whose type
//! needs no `Drop`: std then makes it a plain `#[thread_local]` static, with
//! no lazy initialisation and no destructor registration (which would call
//! `__cxa_thread_atexit_impl`, which allocates). In an executable the access
//! is a `%fs`-relative load (the linker relaxes the TLS model to
//! local-exec). In the preload shim (a shared object) it goes through
//! `__tls_get_addr`; the shim is loaded at start-up, so its block is in the
//! static TLS area and that call finds it without allocating (a glibc
//! before 2.40 can still allocate there after more than 14 further
//! TLS-using libraries were `dlopen`ed, to grow the thread's DTV: building
//! the shim with `-C llvm-args=-enable-tlsdesc` turns the access into a TLS
//! descriptor, which for a static-TLS module never calls into the DTV code
//! at all).
//!
//! A call looks the state up once ([`Thread::current`]: in the shim every
//! thread-local access is a call into the dynamic loader) and works through
//! the handle. The fields a re-entered call may touch are atomics: a signal
//! handler on the same thread may run between any two instructions of the
//! interrupted code, and reads and writes there must be whole. Orderings
//! are relaxed; what matters is the order the compiler emits them in
//! relative to the side table's lock, which [`compiler_fence`]s fix. The
//! thread's counts and armed fault are plain cells: only the outermost
//! frame touches them (and the readers, outside the interposer).

use std::cell::Cell;
use std::sync::atomic::{
    AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering::Relaxed, Ordering::SeqCst,
    compiler_fence,
};

use crate::heap::HIDE;

/// Frees one thread can have put off at once (a signal handler's frees
/// while its thread was inside the interposer, or frees while a fork held
/// the table too long).
const PENDING: usize = 64;

/// A thread's armed fault: allocations to go (0: none armed), keep failing
/// once fired, fired and stuck.
#[derive(Clone, Copy)]
pub(super) struct Fault {
    pub(super) countdown: u64,
    pub(super) persistent: bool,
    pub(super) stuck: bool,
}

pub(super) struct PerThread {
    /// Inside the Rust global allocator: forward, do not count as C
    /// ([`super::as_rust`]; read and written with volatile accesses).
    in_rust: Cell<bool>,
    /// Inside the interposer: a call that finds this set is a re-entry.
    inside: AtomicBool,
    /// `inside` as the fork prepare handler found it (restored after).
    fork_outer: AtomicBool,
    /// Shards this thread held already when it forked (see table::lock_all).
    fork_held: AtomicU64,
    /// This thread's blocks handed out untracked.
    untracked: AtomicU64,
    /// This thread's frees of blocks the interposer never handed out.
    foreign: AtomicU64,
    /// Blocks and bytes that re-entered calls allocated minus freed, for
    /// the outermost frame to add to `counts` as it leaves.
    delta_blocks: AtomicI64,
    delta_bytes: AtomicI64,
    /// Entries of `pending` in use.
    pending_len: AtomicUsize,
    /// Blocks whose free was put off, disguised (`addr ^ HIDE`) so that a
    /// heap scan does not take them for pointers.
    pending: [AtomicUsize; PENDING],
    /// This thread's C blocks and bytes, allocated minus freed (outermost
    /// frame only).
    counts: Cell<(i64, i64)>,
    /// This thread's armed fault (outermost frame only). Per thread, so
    /// the other threads of a test harness never take or move the failure
    /// meant for this one.
    fault: Cell<Fault>,
}

impl PerThread {
    const fn new() -> PerThread {
        PerThread {
            in_rust: Cell::new(false),
            inside: AtomicBool::new(false),
            fork_outer: AtomicBool::new(false),
            fork_held: AtomicU64::new(0),
            untracked: AtomicU64::new(0),
            foreign: AtomicU64::new(0),
            delta_blocks: AtomicI64::new(0),
            delta_bytes: AtomicI64::new(0),
            pending_len: AtomicUsize::new(0),
            pending: [const { AtomicUsize::new(0) }; PENDING],
            counts: Cell::new((0, 0)),
            fault: Cell::new(Fault {
                countdown: 0,
                persistent: false,
                stuck: false,
            }),
        }
    }
}

// No destructor, so no registration (which allocates) on first use.
const _: () = assert!(!std::mem::needs_drop::<PerThread>());

thread_local! {
    static THREAD: PerThread = const { PerThread::new() };
}

/// An id for the calling thread, never 0, distinct among live threads, and
/// the same in a child of `fork`: the address of its state. The side
/// table's locks record their owner with it.
#[inline]
pub(super) fn me() -> usize {
    Thread::current().id()
}

/// The calling thread's state, looked up once. A raw pointer, so neither
/// `Send` nor `Sync`: it is only ever used on the thread that looked it up.
#[derive(Clone, Copy)]
pub(super) struct Thread(*const PerThread);

impl Thread {
    #[inline]
    pub(super) fn current() -> Thread {
        THREAD.with(|t| Thread(std::ptr::from_ref(t)))
    }

    /// See [`me`].
    #[inline]
    pub(super) fn id(self) -> usize {
        self.0 as usize
    }

    #[inline]
    fn get(&self) -> &PerThread {
        // SAFETY: the calling thread's own thread-local, which lives as
        // long as the thread, and a `Thread` never leaves it (not Send).
        unsafe { &*self.0 }
    }

    /// The flag of [`super::as_rust`].
    pub(super) fn in_rust(&self) -> &Cell<bool> {
        &self.get().in_rust
    }

    /// Enters the interposer; None if the thread is inside it already (a
    /// re-entry: the caller must not wait for the side table).
    #[inline]
    pub(super) fn enter(self) -> Option<Inside> {
        let t = self.get();
        if t.inside.load(Relaxed) {
            return None;
        }
        t.inside.store(true, Relaxed);
        // The flag is set before anything the guard protects: a signal
        // handler that runs after this point sees it.
        compiler_fence(SeqCst);
        Some(Inside { thread: self })
    }

    /// Frees put off, or counts of re-entered calls not yet added.
    #[inline]
    fn work_left(self) -> bool {
        let t = self.get();
        t.pending_len.load(Relaxed) != 0
            || t.delta_blocks.load(Relaxed) != 0
            || t.delta_bytes.load(Relaxed) != 0
    }

    /// Puts off the free of `addr` until the thread leaves the interposer;
    /// false if there is no room left (the block then stays allocated).
    pub(super) fn push_pending(self, addr: usize) -> bool {
        let t = self.get();
        let mut len = t.pending_len.load(Relaxed);
        loop {
            if len == PENDING {
                return false;
            }
            // Reserve the entry first: a handler nested in this one
            // reserves the next.
            match t
                .pending_len
                .compare_exchange(len, len + 1, Relaxed, Relaxed)
            {
                Ok(_) => {
                    t.pending[len].store(addr ^ HIDE, Relaxed);
                    return true;
                }
                Err(now) => len = now,
            }
        }
    }

    /// The last free put off, taken off the list (run by the outermost
    /// frame only, so every reserved entry was written by a handler that
    /// returned).
    pub(super) fn pop_pending(self) -> Option<usize> {
        let t = self.get();
        loop {
            let len = t.pending_len.load(Relaxed);
            if len == 0 {
                return None;
            }
            let hidden = t.pending[len - 1].load(Relaxed);
            // A handler may have pushed meanwhile: then retry.
            if t.pending_len
                .compare_exchange(len, len - 1, Relaxed, Relaxed)
                .is_ok()
            {
                return Some(hidden ^ HIDE);
            }
        }
    }

    /// Adds to the counts the outermost frame takes over ([`Thread::take_delta`]).
    pub(super) fn add_delta(self, blocks: i64, bytes: i64) {
        let t = self.get();
        t.delta_blocks.fetch_add(blocks, Relaxed);
        t.delta_bytes.fetch_add(bytes, Relaxed);
    }

    /// The re-entered calls' counts since the last call, taken.
    pub(super) fn take_delta(self) -> (i64, i64) {
        let t = self.get();
        if t.delta_blocks.load(Relaxed) == 0 && t.delta_bytes.load(Relaxed) == 0 {
            return (0, 0);
        }
        (
            t.delta_blocks.swap(0, Relaxed),
            t.delta_bytes.swap(0, Relaxed),
        )
    }

    /// Counts one block of this thread's as untracked.
    pub(super) fn count_untracked(self) {
        self.get().untracked.fetch_add(1, Relaxed);
    }

    /// This thread's blocks handed out untracked, so far.
    pub(super) fn untracked(self) -> u64 {
        self.get().untracked.load(Relaxed)
    }

    /// Counts one free of a block no C allocation handed out.
    pub(super) fn count_foreign(self) {
        self.get().foreign.fetch_add(1, Relaxed);
    }

    /// This thread's frees of blocks no C allocation handed out, so far.
    pub(super) fn foreign(self) -> u64 {
        self.get().foreign.load(Relaxed)
    }

    /// This thread's counts (outermost frame and readers only).
    pub(super) fn counts(&self) -> &Cell<(i64, i64)> {
        &self.get().counts
    }

    /// This thread's armed fault (outermost frame and `fail_nth` only).
    pub(super) fn fault(&self) -> &Cell<Fault> {
        &self.get().fault
    }

    /// The fork prepare handler: the thread is inside the interposer until
    /// [`Thread::fork_leave`] (an allocation by a later prepare handler is
    /// then a re-entry, never a wait on the shards this thread holds).
    pub(super) fn fork_enter(self) {
        let t = self.get();
        let outer = t.inside.swap(true, Relaxed);
        t.fork_outer.store(outer, Relaxed);
        compiler_fence(SeqCst);
    }

    /// Records the shards this thread held before its fork handler ran.
    pub(super) fn set_fork_held(self, mask: u64) {
        self.get().fork_held.store(mask, Relaxed);
    }

    pub(super) fn fork_held(self) -> u64 {
        self.get().fork_held.load(Relaxed)
    }

    /// The parent and child handlers: back to where the prepare handler
    /// found the thread, and, if that is outside the interposer, the work
    /// put off meanwhile done.
    pub(super) fn fork_leave(self) {
        compiler_fence(SeqCst);
        let t = self.get();
        let outer = t.fork_outer.load(Relaxed);
        t.inside.store(outer, Relaxed);
        compiler_fence(SeqCst);
        if !outer {
            // Entering and leaving does it.
            drop(self.enter());
        }
    }
}

/// The calling thread is inside the interposer for as long as this lives;
/// on drop it completes the frees put off meanwhile and adds the re-entered
/// calls' counts ([`super::leave`]).
pub(super) struct Inside {
    thread: Thread,
}

impl Drop for Inside {
    /// The common case inline: nothing left to do, leave. Otherwise (or if
    /// a handler left work between the check and the leaving) the loop of
    /// [`Inside::finish`].
    #[inline]
    fn drop(&mut self) {
        let thread = self.thread;
        compiler_fence(SeqCst);
        if !thread.work_left() {
            thread.get().inside.store(false, Relaxed);
            compiler_fence(SeqCst);
            if !thread.work_left() {
                return;
            }
            thread.get().inside.store(true, Relaxed);
        }
        Inside::finish(thread);
    }
}

impl Inside {
    #[cold]
    #[inline(never)]
    fn finish(thread: Thread) {
        // Whether the last pass completed everything (false: the table was
        // held by a fork; what is left waits for the next call).
        let mut complete = true;
        loop {
            compiler_fence(SeqCst);
            if complete && thread.work_left() {
                complete = super::leave(thread);
            }
            compiler_fence(SeqCst);
            thread.get().inside.store(false, Relaxed);
            compiler_fence(SeqCst);
            // From here on a handler's call is an outermost one and does
            // its own bookkeeping; one that ran between the pass and the
            // store above left work behind: enter again and do it now
            // rather than at the next call.
            if !complete || !thread.work_left() {
                return;
            }
            thread.get().inside.store(true, Relaxed);
        }
    }
}

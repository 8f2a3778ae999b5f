//! Publishing the interposer's counts to the watcher.
//!
//! At load time (an `.init_array` constructor) the shim maps the file
//! named by `LEAKLAB_WATCH_HEAP`, checks the watcher's magic, and claims
//! the page for this process: the first process to load the shim (the
//! watched program), or the same pid again after an `exec`. A process it
//! forks, or any later one that inherits `LD_PRELOAD`, counts but does not
//! publish. The claiming process starts one thread that sums the side
//! table's shards every `publish_ns` and writes the counts.
//!
//! Nothing here allocates through Rust: the constructor runs before the
//! program's `main`, and any allocation here would be counted by the very
//! interposer it serves. The thread is a raw pthread for the same reason.
//!
//! fork: the publisher takes every shard's lock in turn; a fork while it
//! holds one would leave that lock held forever in the child. A
//! `pthread_atfork` handler keeps the publisher out of the table across
//! every fork.

use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::heap::interpose::table;
use crate::layout::{Counts, MAGIC, Shared};

/// The constructor, run by the dynamic loader when the shim is loaded.
#[used]
#[unsafe(link_section = ".init_array")]
static INIT: extern "C" fn() = init;

/// The publisher is inside the side table (or a fork holds it out).
static BUSY: AtomicBool = AtomicBool::new(false);

/// The shortest publishing period honoured: 1 ms.
const MIN_PUBLISH_NS: u64 = 1_000_000;

extern "C" fn init() {
    // SAFETY: the constructor runs once, before any thread of the program
    // but the loader's; `start` only reads the environment and maps a page.
    unsafe { start() };
}

/// Maps the shared page and starts the publisher, if this process is the
/// one to publish.
///
/// # Safety
/// Called once per process image, from the constructor.
unsafe fn start() {
    // SAFETY: a NUL-terminated name; getenv returns NULL or a C string that
    // lives as long as the environment is not modified, long enough here.
    let path = unsafe { libc::getenv(crate::layout::PATH_VAR_C.as_ptr()) };
    if path.is_null() {
        return;
    }
    let len = size_of::<Shared>();
    // SAFETY: `path` is a C string (above).
    let fd = unsafe { libc::open(path, libc::O_RDWR | libc::O_CLOEXEC) };
    if fd < 0 {
        return;
    }
    let map = crate::layout::map_shared(fd, len);
    // SAFETY: our descriptor; the mapping stays valid without it.
    unsafe { libc::close(fd) };
    let Some(map) = map else {
        return;
    };
    // SAFETY: the watcher sized the file to a whole page, at least a
    // `Shared`; every field is an atomic, so sharing it is sound; the
    // mapping is never unmapped, so the reference is 'static.
    let shared: &'static Shared = unsafe { &*map };
    if shared.magic.load(Ordering::Acquire) != MAGIC || !claim(shared) {
        return;
    }
    // SAFETY: the handlers are plain functions that only touch atomics.
    unsafe { libc::pthread_atfork(Some(before_fork), Some(after_fork), Some(after_fork)) };
    let mut thread: libc::pthread_t = 0;
    // SAFETY: `publisher` takes the 'static page as its argument and never
    // returns; default attributes; the thread is detached at once.
    unsafe {
        let arg = std::ptr::from_ref(shared).cast_mut().cast::<c_void>();
        if libc::pthread_create(&mut thread, std::ptr::null(), publisher, arg) == 0 {
            libc::pthread_detach(thread);
        }
    }
}

/// Claims the page for this process: free, or already this pid's (an exec
/// of the watched program reloads the shim under the same pid).
fn claim(shared: &Shared) -> bool {
    // SAFETY: getpid has no preconditions.
    let me = u64::try_from(unsafe { libc::getpid() }).unwrap_or(0);
    match shared
        .owner_pid
        .compare_exchange(0, me, Ordering::AcqRel, Ordering::Acquire)
    {
        Ok(_) => true,
        Err(owner) => owner == me,
    }
}

/// The publishing thread: sum, write, sleep, for the life of the process.
extern "C" fn publisher(arg: *mut c_void) -> *mut c_void {
    // SAFETY: `start` passes the 'static shared page.
    let shared: &Shared = unsafe { &*arg.cast::<Shared>() };
    let ns = shared
        .publish_ns
        .load(Ordering::Relaxed)
        .max(MIN_PUBLISH_NS);
    let period = libc::timespec {
        tv_sec: (ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (ns % 1_000_000_000) as libc::c_long,
    };
    loop {
        if enter() {
            let totals = table::totals();
            BUSY.store(false, Ordering::Release);
            shared.publish(Counts {
                live_blocks: totals.live_blocks,
                live_bytes: totals.live_bytes,
                allocations: totals.allocations,
            });
        }
        // SAFETY: a valid timespec; an interrupted sleep just ends early.
        unsafe { libc::nanosleep(&period, std::ptr::null_mut()) };
    }
}

/// Takes [`BUSY`] if free.
fn enter() -> bool {
    BUSY.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_ok()
}

/// Before a fork: wait until the publisher is out of the table, and keep
/// it out.
extern "C" fn before_fork() {
    while !enter() {
        std::hint::spin_loop();
    }
}

/// After a fork, in parent and child: the publisher may go on (there is
/// none in the child).
extern "C" fn after_fork() {
    BUSY.store(false, Ordering::Release);
}

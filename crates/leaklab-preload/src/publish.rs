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
//! every fork; it is registered after the interposer's own (which take
//! every shard), so that it runs before them.

use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, Ordering};

use leaklab::heap::interpose::table;
use leaklab::watch_page::{self as layout, Counts, MAGIC, Shared};

/// The constructor, run by the dynamic loader when the shim is loaded.
#[used]
#[unsafe(link_section = ".init_array")]
static INIT: extern "C" fn() = init;

/// The destructor, run at `exit` (not at `_exit` or a crash).
#[used]
#[unsafe(link_section = ".fini_array")]
static FINI: extern "C" fn() = fini;

/// The page this process claimed, for the destructor.
static CLAIMED: std::sync::atomic::AtomicPtr<Shared> =
    std::sync::atomic::AtomicPtr::new(std::ptr::null_mut());

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
    let path = unsafe { libc::getenv(layout::PATH_VAR_C.as_ptr()) };
    if path.is_null() {
        return;
    }
    let len = size_of::<Shared>();
    // SAFETY: `path` is a C string (above).
    let fd = unsafe { libc::open(path, libc::O_RDWR | libc::O_CLOEXEC) };
    if fd < 0 {
        return;
    }
    let map = layout::map_shared(fd, len);
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
    CLAIMED.store(std::ptr::from_ref(shared).cast_mut(), Ordering::Release);
    if shared.publish_ns.load(Ordering::Relaxed) == 0 {
        // Counts wanted at exit only, with the scan: no publisher thread,
        // and freed memory zeroed so it holds no stale pointer.
        leaklab::heap::interpose::scrub_freed();
        return;
    }
    // The interposer's fork handlers first: prepare handlers run in
    // reverse order of registration, so this one then runs before the
    // interposer's takes every shard of the table, while the publisher
    // (which holds BUSY across a sum of the shards) can still finish.
    leaklab::heap::interpose::fork::register_once();
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

/// At exit: the last counts, marked final. Other threads may still run
/// (exit does not stop them), so the publisher is kept out as for a fork.
extern "C" fn fini() {
    let shared = CLAIMED.load(Ordering::Acquire);
    if shared.is_null() {
        return;
    }
    // SAFETY: set by `start` to the 'static page this process claimed.
    let shared: &Shared = unsafe { &*shared };
    // The scan allocates (through this very interposer): before the
    // publisher is held out, and the block list sized first.
    let (lost, possible) = scan_at_exit();
    before_fork();
    let totals = table::totals();
    shared.publish(Counts {
        live_blocks: totals.live_blocks,
        live_bytes: totals.live_bytes,
        allocations: totals.allocations,
    });
    shared.lost_blocks.store(lost.0, Ordering::Relaxed);
    shared.lost_bytes.store(lost.1, Ordering::Relaxed);
    shared.possible_blocks.store(possible.0, Ordering::Relaxed);
    shared.possible_bytes.store(possible.1, Ordering::Relaxed);
    shared.exited.store(1, Ordering::Release);
}

/// Every live block classed by a scan of the process's memory: (blocks,
/// bytes) lost, and possibly lost.
fn scan_at_exit() -> ((i64, i64), (i64, i64)) {
    use leaklab::heap::reach::{Class, Roots, classify_with};
    use leaklab::heap::stacks::Recorded;
    let live = usize::try_from(table::totals().live_blocks).unwrap_or(0);
    // Room for blocks allocated meanwhile (by this very Vec's neighbours).
    let mut blocks = Vec::with_capacity(live + live / 8 + 64);
    table::live_blocks(&mut blocks);
    // The list is a block of the table itself (nothing here tells the
    // shim's own allocations apart), and it is freed before the scan: a
    // block nothing points to, classed lost, unless some later block
    // carved out of its freed chunk left a stale start pointer by chance.
    // It is no block of the program's: left out (in place, no allocation).
    let own = blocks.as_ptr() as usize;
    blocks.retain(|&(addr, _)| addr != own);
    let recorded = Recorded::of_live_blocks(&blocks);
    // The list holds plain addresses: cleared, or its freed memory would
    // be a root for every block.
    blocks.iter_mut().for_each(|b| *b = (0, 0));
    std::hint::black_box(&mut blocks);
    drop(blocks);
    let mut lost = (0, 0);
    let mut possible = (0, 0);
    for (block, class) in recorded
        .kept
        .iter()
        .zip(classify_with(&recorded, Roots::DataAndThisStack))
    {
        let slot = match class {
            Class::Lost => &mut lost,
            Class::Possible => &mut possible,
            Class::Reachable => continue,
        };
        slot.0 += 1;
        slot.1 += block.size as i64;
    }
    (lost, possible)
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

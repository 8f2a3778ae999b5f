//! Publishing the interposer's counts to the watcher (`leaklab watch`,
//! `cargo leaklab test --detector counters`, `cargo leaklab run`).
//!
//! Whichever copy of the interposer serves the process's `malloc` runs
//! this: the executable's own, when it links this crate (its `malloc` wins
//! over any preloaded one), else the preload shim's (`leaklab-preload`, a
//! cdylib of this same code). Each copy has the constructor below; the one
//! whose `malloc` is not the process's stays silent ([`serves_malloc`]).
//!
//! At load time (an `.init_array` constructor), when `LEAKLAB_WATCH_HEAP`
//! is set (one `getenv`, nothing more, when it is not), the copy maps the
//! file it names, checks the watcher's magic, and claims a record of the
//! page for this process by its pid (the same record again after an
//! `exec`). A process the program forks claims its own record in a
//! `pthread_atfork` child handler, and a program it execs (which inherits
//! `LD_PRELOAD` and the variable) in its own constructor: the watcher
//! finds every process of the tree by pid. Each publishing process runs
//! one thread that sums the side table's shards every `publish_ns` and
//! writes the counts into its record.
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
//!
//! A binary whose global allocator is [`crate::Counting`] hands Rust's
//! blocks to its inner allocator past the C counters; the copy that
//! publishes has the side table hold them too (`rust_blocks_in_table`),
//! uncounted by the C counters, so its counts, scan and sites cover the
//! whole heap, as the shim's do in any other program.

use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

use super::{sites, table};
use crate::watch_page::{self as layout, Counts, MAGIC, Record, Shared};

/// The constructor, run by the dynamic loader when the object holding this
/// copy of the interposer is loaded (the executable, or the shim).
#[used]
#[unsafe(link_section = ".init_array")]
static INIT: extern "C" fn() = init;

/// The destructor, run at `exit` (not at `_exit` or a crash).
#[used]
#[unsafe(link_section = ".fini_array")]
static FINI: extern "C" fn() = fini;

/// The watcher's page, once mapped (never unmapped), for a forked child.
static PAGE: AtomicPtr<Shared> = AtomicPtr::new(std::ptr::null_mut());

/// This process's record (null: it publishes nothing).
static CLAIMED: AtomicPtr<Record> = AtomicPtr::new(std::ptr::null_mut());

/// This copy of the interposer does not serve `malloc` (another does):
/// it publishes nothing but, at exit, that nothing was seen.
static STANDBY: AtomicBool = AtomicBool::new(false);

/// The publisher is inside the side table (or a fork holds it out).
static BUSY: AtomicBool = AtomicBool::new(false);

/// The shortest publishing period honoured: 1 ms.
const MIN_PUBLISH_NS: u64 = 1_000_000;

extern "C" fn init() {
    // SAFETY: the constructor runs once, before any thread of the program
    // but the loader's; `start` only reads the environment and maps a page.
    unsafe { start() };
}

/// This process's pid.
fn my_pid() -> u64 {
    // SAFETY: getpid has no preconditions.
    u64::try_from(unsafe { libc::getpid() }).unwrap_or(0)
}

/// Whether this copy of the interposer is the one serving the process's
/// `malloc`: one allocation through the `malloc` every caller is bound to
/// reaches this copy's side table, or not.
///
/// Not the object `dlsym` names: a non-PIE executable that takes
/// `malloc`'s address (Debian's `python3.11`) has a canonical PLT entry for
/// it, an undefined symbol with an address, which `dlsym` returns although
/// the executable defines no `malloc`; a call through that entry reaches
/// the real one.
fn serves_malloc() -> bool {
    // SAFETY: NUL-terminated names; RTLD_DEFAULT searches the global scope
    // as the dynamic linker binds calls; `dlsym` does not allocate on success.
    let (malloc, free) = unsafe {
        (
            libc::dlsym(libc::RTLD_DEFAULT, c"malloc".as_ptr()),
            libc::dlsym(libc::RTLD_DEFAULT, c"free".as_ptr()),
        )
    };
    if malloc.is_null() || free.is_null() {
        return false;
    }
    type Malloc = extern "C" fn(usize) -> *mut c_void;
    type Free = extern "C" fn(*mut c_void);
    // SAFETY: the addresses of the process's `malloc` and `free` (or the
    // PLT entries that jump to them), whose C signatures these are.
    let (malloc, free) = unsafe {
        (
            std::mem::transmute::<*mut c_void, Malloc>(malloc),
            std::mem::transmute::<*mut c_void, Free>(free),
        )
    };
    let before = table::totals().allocations;
    let probe = malloc(1);
    let seen = table::totals().allocations != before;
    free(probe);
    seen
}

/// Maps the shared page, claims this process's record and, if this copy
/// serves `malloc`, starts the publisher (else it only stands by: see
/// [`STANDBY`]).
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
    // A file shorter than the page would fault (SIGBUS) past its end.
    // SAFETY: a zeroed stat is a valid out-buffer for fstat on our fd.
    let long_enough = unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        libc::fstat(fd, &mut st) == 0 && usize::try_from(st.st_size).is_ok_and(|n| n >= len)
    };
    let map = if long_enough {
        layout::map_shared(fd, len)
    } else {
        None
    };
    // SAFETY: our descriptor; the mapping stays valid without it.
    unsafe { libc::close(fd) };
    let Some(map) = map else {
        return;
    };
    // SAFETY: the file holds at least a `Shared` (checked above); every
    // field is an atomic, so sharing it is sound; the mapping is never
    // unmapped, so the reference is 'static.
    let shared: &'static Shared = unsafe { &*map };
    if shared.magic.load(Ordering::Acquire) != MAGIC {
        return;
    }
    let Some(record) = shared.claim(my_pid()) else {
        return;
    };
    // Not exiting (a reused pid's record may say otherwise).
    record.exiting.store(0, Ordering::Release);
    PAGE.store(map, Ordering::Release);
    if !serves_malloc() {
        // Another allocator serves the process: the executable's own copy
        // of this interposer (it links leaklab), which claims this same
        // record (by pid) and publishes; or one that is no copy of it
        // (jemalloc's, say), of which nothing is seen. This copy only
        // marks the process as reached, and at exit says it saw nothing
        // if no copy published ([`stand_by_at_exit`]).
        STANDBY.store(true, Ordering::Release);
        return;
    }
    // Before any Rust allocation of `main`: the table then holds the
    // whole heap, `Counting`'s blocks included.
    super::rust_blocks_in_table();
    CLAIMED.store(std::ptr::from_ref(record).cast_mut(), Ordering::Release);
    // Sites, when the reader asks for them (a directory for their files):
    // the watcher over time, or `cargo leaklab test`'s re-run of a test
    // that lost memory, at exit only.
    // SAFETY: a NUL-terminated name; the result is NULL or a C string,
    // copied by `enable`.
    let sites = unsafe { libc::getenv(crate::watch_sites::DIR_VAR_C.as_ptr()) };
    if !sites.is_null() {
        let mean = env_number(crate::watch_sites::SAMPLE_VAR_C).unwrap_or(0);
        let cap = env_number(crate::watch_sites::CAP_VAR_C).map_or(usize::MAX, |n| n as usize);
        sites::enable(
            // SAFETY: a C string from getenv (above).
            unsafe { std::ffi::CStr::from_ptr(sites) },
            mean,
            cap,
        );
    }
    if shared.publish_ns.load(Ordering::Relaxed) == 0 {
        // Counts wanted at exit only, with the scan: no publisher thread,
        // and freed memory zeroed so it holds no stale pointer.
        super::scrub_freed();
        if sites::enabled() {
            // A forked child counts its sites into a file of its own.
            // SAFETY: the handler only maps a file and copies atomics.
            unsafe { libc::pthread_atfork(None, None, Some(sites_in_child)) };
        }
        return;
    }
    // The interposer's fork handlers first: prepare handlers run in
    // reverse order of registration, so this one then runs before the
    // interposer's takes every shard of the table, while the publisher
    // (which holds BUSY across a sum of the shards) can still finish;
    // child handlers run in order, so the child's claim and publisher come
    // after the interposer released the table.
    super::fork::register_once();
    // SAFETY: the handlers are plain functions that only touch atomics,
    // but for the child's, which starts the child's publisher.
    unsafe { libc::pthread_atfork(Some(before_fork), Some(after_fork), Some(in_child)) };
    spawn_publisher(record);
}

/// The environment variable `name` as a decimal number, without
/// allocating; None if unset, empty or not a number.
fn env_number(name: &std::ffi::CStr) -> Option<u64> {
    // SAFETY: a NUL-terminated name; the result is NULL or a C string
    // that lives as long as the environment is not modified (read here).
    let value = unsafe { libc::getenv(name.as_ptr()) };
    if value.is_null() {
        return None;
    }
    // SAFETY: a C string from getenv (above).
    let text = unsafe { std::ffi::CStr::from_ptr(value) }.to_bytes();
    if text.is_empty() {
        return None;
    }
    text.iter().try_fold(0u64, |n, &c| {
        c.is_ascii_digit()
            .then(|| n.checked_mul(10)?.checked_add(u64::from(c - b'0')))
            .flatten()
    })
}

/// Starts the publishing thread for `record` (of the 'static page).
fn spawn_publisher(record: &'static Record) {
    let mut thread: libc::pthread_t = 0;
    // SAFETY: `publisher` takes the 'static record as its argument and
    // never returns; default attributes; the thread is detached at once.
    unsafe {
        let arg = std::ptr::from_ref(record).cast_mut().cast::<c_void>();
        if libc::pthread_create(&mut thread, std::ptr::null(), publisher, arg) == 0 {
            libc::pthread_detach(thread);
        }
    }
}

/// The publishing thread: sum, write, sleep, for the life of the process.
extern "C" fn publisher(arg: *mut c_void) -> *mut c_void {
    // SAFETY: `spawn_publisher` passes a record of the 'static page.
    let record: &Record = unsafe { &*arg.cast::<Record>() };
    let page = PAGE.load(Ordering::Acquire);
    // SAFETY: set before any publisher starts, to the 'static page.
    let ns = unsafe { &*page }
        .publish_ns
        .load(Ordering::Relaxed)
        .max(MIN_PUBLISH_NS);
    let period = libc::timespec {
        tv_sec: (ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (ns % 1_000_000_000) as libc::c_long,
    };
    loop {
        if enter() {
            let counts = counts();
            BUSY.store(false, Ordering::Release);
            record.publish(counts);
        }
        // SAFETY: a valid timespec; an interrupted sleep just ends early.
        unsafe { libc::nanosleep(&period, std::ptr::null_mut()) };
    }
}

/// The counts to publish now (the caller keeps other sums out).
fn counts() -> Counts {
    let totals = table::totals();
    Counts {
        live_blocks: totals.live_blocks,
        live_bytes: totals.live_bytes,
        allocations: totals.allocations,
        refused: super::refused_allocations(),
        shim_bytes: (table::resident_bytes() + sites::resident_bytes()) as u64,
    }
}

/// At exit: first the mark that the process is exiting (what the watcher
/// samples from now on is teardown), then the last counts, marked final.
/// Other threads may still run (exit does not stop them), so the publisher
/// is kept out as for a fork.
extern "C" fn fini() {
    let record = CLAIMED.load(Ordering::Acquire);
    if record.is_null() {
        if STANDBY.load(Ordering::Acquire) {
            stand_by_at_exit();
        }
        return;
    }
    // SAFETY: set by `start` (or a fork's child) to a record of the
    // 'static page this process claimed.
    let record: &Record = unsafe { &*record };
    record.exiting.store(1, Ordering::Release);
    // SAFETY: PAGE is set whenever CLAIMED is, to the 'static page.
    let watched = unsafe { &*PAGE.load(Ordering::Acquire) }
        .publish_ns
        .load(Ordering::Relaxed)
        != 0;
    // The scan is for `cargo leaklab test` (counts at exit only); a
    // watcher reads no scan, and it would only lengthen the exit. It
    // allocates (through this very interposer): before the publisher is
    // held out, and the block list sized first.
    // With sites, the watcher does read one: which sites' blocks are lost.
    let (lost, possible) = if watched && !sites::enabled() {
        ((0, 0), (0, 0))
    } else {
        let threads = sites::threads_settled();
        let found = scan_at_exit();
        sites::scanned(threads);
        // The objects the sites' addresses lie in, for a reader that
        // could not read them while the process ran.
        sites::save_maps();
        found
    };
    before_fork();
    record.publish(counts());
    record.lost_blocks.store(lost.0, Ordering::Relaxed);
    record.lost_bytes.store(lost.1, Ordering::Relaxed);
    record.possible_blocks.store(possible.0, Ordering::Relaxed);
    record.possible_bytes.store(possible.1, Ordering::Relaxed);
    record.exited.store(1, Ordering::Release);
}

/// At exit, in a process this copy does not serve: unless the copy that
/// serves it published its exit (the executable's destructors run before
/// those of the preloaded objects), the record says the process exited
/// having counted nothing, no allocation (a reader then knows the heap was
/// not seen, rather than waiting for an exit that never comes).
fn stand_by_at_exit() {
    let page = PAGE.load(Ordering::Acquire);
    if page.is_null() {
        return;
    }
    // SAFETY: the 'static page, mapped by `start` (STANDBY is set after).
    let shared: &'static Shared = unsafe { &*page };
    // The pid's record: the one `start` claimed, or a forked child's own.
    let Some(record) = shared.claim(my_pid()) else {
        return;
    };
    if record.exited.load(Ordering::Acquire) != 0 {
        return;
    }
    record.exiting.store(1, Ordering::Release);
    record.publish(NOTHING);
    record.exited.store(1, Ordering::Release);
}

/// Counts of nothing seen.
const NOTHING: Counts = Counts {
    live_blocks: 0,
    live_bytes: 0,
    allocations: 0,
    refused: 0,
    shim_bytes: 0,
};

/// Every live block classed by a scan of the process's memory: (blocks,
/// bytes) lost, and possibly lost; each lost one told to its site.
fn scan_at_exit() -> ((i64, i64), (i64, i64)) {
    use crate::heap::reach::{Class, Roots, classify_with};
    use crate::heap::stacks::Recorded;
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
            Class::Lost => {
                sites::note_lost(block.address(), block.size, false);
                &mut lost
            }
            Class::Possible => {
                sites::note_lost(block.address(), block.size, true);
                &mut possible
            }
            Class::Reachable => continue,
        };
        slot.0 += 1;
        slot.1 += block.size as i64;
    }
    (lost, possible)
}

/// After a fork, in the child of a process counting its sites at exit
/// only (no publisher): a site file of its own.
extern "C" fn sites_in_child() {
    sites::in_child();
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

/// After a fork, in the parent: the publisher may go on.
extern "C" fn after_fork() {
    BUSY.store(false, Ordering::Release);
}

/// After a fork, in the child: a process of its own, so a record of its
/// own (its parent's stays the parent's) and a publisher for it (threads
/// do not survive a fork). With no record free it publishes nothing.
extern "C" fn in_child() {
    BUSY.store(false, Ordering::Release);
    sites::in_child();
    let page = PAGE.load(Ordering::Acquire);
    if page.is_null() {
        CLAIMED.store(std::ptr::null_mut(), Ordering::Release);
        return;
    }
    // SAFETY: the 'static page, mapped by `start` before the fork.
    let shared: &'static Shared = unsafe { &*page };
    match shared.claim(my_pid()) {
        Some(record) => {
            record.exiting.store(0, Ordering::Release);
            CLAIMED.store(std::ptr::from_ref(record).cast_mut(), Ordering::Release);
            record.publish(counts());
            spawn_publisher(record);
        }
        None => CLAIMED.store(std::ptr::null_mut(), Ordering::Release),
    }
}

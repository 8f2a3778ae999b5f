//! Per-site accounting (`leaklab watch`'s sites, heap/interpose/sites.rs)
//! under a signal handler that allocates: every allocation's stack walked
//! (exact mode), from the handler too when it interrupted the thread
//! outside the allocator, and counted as "no stack" when inside it. Nothing
//! may hang, and once every block is freed every site must be back to zero
//! live blocks: each free found its block's site.
//!
//! The round runs in a forked child under a deadline (one thread, which
//! every SIGALRM interrupts), as signal_reentry.rs does, and keeps glibc's
//! own allocator out of the way the same way: the loop's blocks come from
//! the tcache, the handler's are mmapped.

use std::ffi::CString;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use leaklab::watch_sites::{self as layout, Table};

#[global_allocator]
static ALLOC: leaklab::Counting = leaklab::Counting::system();

const MMAP_FROM: usize = 64 * 1024;
const BIG: usize = 2 * MMAP_FROM;
const SIGNALS: u64 = 1000;

static HANDLED: AtomicU64 = AtomicU64::new(0);
const KEPT: usize = 16;
static KEEP: [AtomicPtr<libc::c_void>; KEPT] =
    [const { AtomicPtr::new(std::ptr::null_mut()) }; KEPT];

extern "C" fn on_alarm(_: libc::c_int) {
    // SAFETY: this thread's errno, saved and restored around the handler.
    let errno = unsafe { *libc::__errno_location() };
    let n = HANDLED.fetch_add(1, Relaxed);
    // SAFETY: plain C allocations of mmapped sizes, each freed once (here,
    // by a later signal, or by the main thread), written in bounds.
    unsafe {
        let p = libc::malloc(BIG).cast::<u8>();
        if !p.is_null() {
            p.write(n as u8);
        }
        let q = libc::realloc(libc::calloc(1, BIG), 2 * BIG);
        libc::free(q);
        let old = KEEP[n as usize % KEPT].swap(p.cast(), Relaxed);
        libc::free(old);
        *libc::__errno_location() = errno;
    }
}

fn timer(interval_us: i64) {
    let every = libc::timeval {
        tv_sec: 0,
        tv_usec: interval_us,
    };
    let spec = libc::itimerval {
        it_interval: every,
        it_value: every,
    };
    // SAFETY: a valid itimerval; the old value is not wanted.
    assert_eq!(
        unsafe { libc::setitimer(libc::ITIMER_REAL, &spec, std::ptr::null_mut()) },
        0
    );
}

/// The child: sites on, the loop and the handler, everything freed; the
/// sites summed. Exit 0, or 1 with the reason on stderr.
fn child(dir: &std::path::Path) -> ! {
    let c_dir = CString::new(dir.as_os_str().as_encoded_bytes()).unwrap();
    assert!(leaklab::heap::interpose::sites::enable(
        &c_dir,
        0,
        usize::MAX
    ));
    // SAFETY: mallopt with a valid parameter.
    unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_FROM as libc::c_int) };
    // SAFETY: malloc/free pairs filling the tcache bins the loop uses.
    unsafe {
        for size in [24usize, 40] {
            libc::free(libc::malloc(size));
        }
    }
    let handler = on_alarm as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: a zeroed sigaction with a valid handler and an empty mask.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = handler;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        assert_eq!(
            libc::sigaction(libc::SIGALRM, &action, std::ptr::null_mut()),
            0
        );
    }
    timer(200);
    while HANDLED.load(Relaxed) < SIGNALS {
        // SAFETY: malloc/free pairs of tcache sizes, written in bounds.
        unsafe {
            let a = libc::malloc(24).cast::<u8>();
            let b = libc::malloc(40).cast::<u8>();
            a.write(1);
            b.write(2);
            libc::free(a.cast());
            libc::free(b.cast());
        }
    }
    timer(0);
    for slot in &KEEP {
        // SAFETY: a block the handler allocated, or NULL.
        unsafe { libc::free(slot.swap(std::ptr::null_mut(), Relaxed)) };
    }
    let (live, allocations, unwalked, unmapped) = sums(dir);
    let ok = live == 0 && allocations > 2 * SIGNALS && unmapped == 0;
    eprintln!(
        "sites under signals: {live} live blocks left, {allocations} allocations \
         ({unwalked} with no stack), {unmapped} unmapped"
    );
    // SAFETY: exit at once, running none of the parent's handlers.
    unsafe { libc::_exit(if ok { 0 } else { 1 }) }
}

/// The sites' sums: (live blocks, allocations, of which with no stack,
/// allocations attributed to no site).
fn sums(dir: &std::path::Path) -> (i64, u64, u64, u64) {
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };
    let file = std::fs::File::open(dir.join(pid.to_string())).expect("the site file");
    use std::os::fd::AsRawFd;
    // SAFETY: a read-only shared mapping of the whole file (LEN bytes, as
    // the shim sized it); every field is an atomic.
    let table = unsafe {
        let map = libc::mmap(
            std::ptr::null_mut(),
            layout::LEN,
            libc::PROT_READ,
            libc::MAP_SHARED,
            file.as_raw_fd(),
            0,
        );
        assert_ne!(map, libc::MAP_FAILED);
        &*map.cast::<Table>()
    };
    let (mut live, mut allocations, mut unwalked) = (0i64, 0u64, 0u64);
    for (i, site) in table.sites.iter().enumerate() {
        if site.key.load(Relaxed) == 0 {
            continue;
        }
        live += site.live_blocks.load(Relaxed);
        allocations += site.allocations.load(Relaxed);
        if i == layout::UNWALKED {
            unwalked = site.allocations.load(Relaxed);
        }
    }
    (
        live,
        allocations,
        unwalked,
        table.header.unmapped_blocks.load(Relaxed),
    )
}

/// Threads allocating, reallocating and freeing blocks of many sizes from
/// a few stacks at once (interning races, the map under contention); all
/// freed, every site back to where it was.
fn threads_child(dir: &std::path::Path) -> ! {
    let c_dir = CString::new(dir.as_os_str().as_encoded_bytes()).unwrap();
    assert!(leaklab::heap::interpose::sites::enable(
        &c_dir,
        0,
        usize::MAX
    ));
    // glibc keeps a finished thread's stack, and its TLS vector (a calloc
    // of pthread_create's), for the next thread: four idle threads first,
    // so that the measured ones reuse theirs, and the baseline holds them.
    for t in (0..4)
        .map(|_| std::thread::spawn(|| ()))
        .collect::<Vec<_>>()
    {
        t.join().unwrap();
    }
    let (baseline, _, _, _) = sums(dir);
    const PER_THREAD: usize = 20_000;
    let threads: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || {
                let mut kept = [std::ptr::null_mut::<libc::c_void>(); 64];
                for i in 0..PER_THREAD {
                    let size = 8 + (i * 37 + t * 11) % 3000;
                    // SAFETY: plain C allocations, each freed once.
                    unsafe {
                        let p = if i % 3 == 0 {
                            libc::realloc(libc::malloc(size / 2 + 1), size)
                        } else {
                            libc::malloc(size)
                        };
                        libc::free(std::mem::replace(&mut kept[i % kept.len()], p));
                    }
                }
                for p in kept {
                    // SAFETY: blocks of this thread's, or NULL.
                    unsafe { libc::free(p) };
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let (live, allocations, _, unmapped) = sums(dir);
    let ok = live == baseline && allocations as usize >= 4 * PER_THREAD && unmapped == 0;
    eprintln!(
        "sites across threads: {live} live blocks left ({baseline} before the threads), \
         {allocations} allocations"
    );
    // SAFETY: exit at once.
    unsafe { libc::_exit(if ok { 0 } else { 1 }) }
}

/// Runs `child` in a forked child under a deadline; panics if it hangs
/// or fails.
fn in_child(what: &str, child: fn(&std::path::Path) -> !) {
    let dir = std::env::temp_dir().join(format!("leaklab-sites-{what}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).unwrap();
    for round in 0..3 {
        // SAFETY: the child runs `child`, which never returns.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            child(&dir);
        }
        let start = Instant::now();
        let mut status = 0;
        loop {
            // SAFETY: our own child; `status` is writable.
            let reaped = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            if reaped == pid {
                break;
            }
            if start.elapsed() > Duration::from_secs(60) {
                // SAFETY: our own child, not reaped yet.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                    libc::waitpid(pid, &mut status, 0);
                }
                panic!("round {round}: the child hung (killed after 60 s)");
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "{what}, round {round}: status {status:#x} (its stderr says why)"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

// Natively, in a process of their own under memcheck (which replaces the
// interposer, and with it the sites): `in_a_counted_process`.
#[test]
fn sites_stay_exact_and_nothing_hangs_under_an_allocating_signal_handler() {
    leaklab::check::in_a_counted_process(
        "sites_stay_exact_and_nothing_hangs_under_an_allocating_signal_handler",
        || in_child("signals", child),
    );
}

#[test]
fn sites_stay_exact_across_threads() {
    leaklab::check::in_a_counted_process("sites_stay_exact_across_threads", || {
        in_child("threads", threads_child)
    });
}

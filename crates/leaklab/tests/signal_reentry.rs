//! A signal handler that allocates, on a thread the signal interrupted
//! inside the interposer: the handler's calls must never wait on the side
//! table's lock that its own thread holds (before the reentrancy guard, 5
//! of 5 runs hung), and the counts must come out exact: the blocks it got
//! untracked are counted as untracked, and their later frees are neither
//! foreign frees nor phantom blocks.
//!
//! Each round is a forked child with a deadline (killed past it: a hang
//! fails the test, never hangs it); forked, so it has one thread, which
//! every signal interrupts, and its process-wide counts are its own. In the
//! child, the thread mallocs and frees in a tight loop while a SIGALRM
//! timer fires every 100 µs; the handler allocates (malloc, calloc,
//! realloc, posix_memalign), frees some of its blocks at once, frees others
//! a few signals later, and leaves the rest for the thread to free after
//! the timer stops.
//!
//! glibc's own allocator is not async-signal-safe either, so the test keeps
//! it out of the way: the main loop's blocks always come from the thread's
//! tcache (no arena lock), and the handler's are large enough to be
//! mmapped (glibc's threshold is fixed with mallopt): the two never touch
//! the same glibc state.
//!
//! Rounds and signals: `LEAKLAB_SIGNAL_ROUNDS` (5), `LEAKLAB_SIGNALS` per
//! round (2,000).

use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

mod support;

#[global_allocator]
static ALLOC: leaklab::Counting = leaklab::Counting::system();

/// glibc mmaps every block from this size up (mallopt below).
const MMAP_FROM: usize = 64 * 1024;
const BIG: usize = 2 * MMAP_FROM;

static HANDLED: AtomicU64 = AtomicU64::new(0);
/// Blocks the handler keeps for a while (freed by a later signal, or by
/// the main thread at the end).
const KEPT: usize = 64;
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
        let q = libc::calloc(1, BIG);
        let q = libc::realloc(q, 2 * BIG);
        libc::free(q);
        let mut aligned = std::ptr::null_mut();
        if libc::posix_memalign(&mut aligned, 4096, BIG) == 0 {
            libc::free(aligned);
        }
        let old = KEEP[n as usize % KEPT].swap(p.cast(), Relaxed);
        libc::free(old);
        *libc::__errno_location() = errno;
    }
}

/// Sets a SIGALRM timer firing every `interval_us`, or stops it (0).
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

/// What a round's child reports.
#[derive(Clone, Copy, Default)]
#[repr(C)]
struct Outcome {
    signals: u64,
    untracked: i64,
    live_blocks: i64,
    live_bytes: i64,
    foreign_frees: i64,
}

/// The child's work.
fn stress(signals: u64) -> Outcome {
    // SAFETY: mallopt with a valid parameter; fixing the threshold also
    // stops glibc from raising it after frees.
    assert_eq!(
        unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_FROM as libc::c_int) },
        1
    );
    // Fill the tcache bins the main loop uses, so it never enters the arena.
    // SAFETY: malloc/free pairs.
    unsafe {
        for size in [24usize, 40] {
            libc::free(libc::malloc(size));
        }
    }
    let before = leaklab::heap::c::stats();
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
    timer(100);
    while HANDLED.load(Relaxed) < signals {
        // SAFETY: malloc/free pairs of tcache sizes, written in bounds.
        unsafe {
            let a = libc::malloc(24).cast::<u8>();
            let b = libc::malloc(40).cast::<u8>();
            assert!(!a.is_null() && !b.is_null());
            a.write(1);
            b.write(2);
            libc::free(a.cast());
            libc::free(b.cast());
        }
    }
    timer(0);
    // The handler's blocks still kept: freed here, outside any handler.
    for slot in &KEEP {
        // SAFETY: a block the handler allocated, or NULL.
        unsafe { libc::free(slot.swap(std::ptr::null_mut(), Relaxed)) };
    }
    let after = leaklab::heap::c::stats();
    Outcome {
        signals: HANDLED.load(Relaxed),
        untracked: (after.untracked - before.untracked) as i64,
        live_blocks: after.live_blocks - before.live_blocks,
        live_bytes: after.live_bytes - before.live_bytes,
        foreign_frees: (after.foreign_frees - before.foreign_frees) as i64,
    }
}

/// One round: a forked child runs [`stress`] and writes its outcome to a
/// pipe; None if it had to be killed at `deadline`.
fn round(signals: u64, deadline: Duration) -> Result<Option<Outcome>, String> {
    let mut fds = [0; 2];
    // SAFETY: a pipe into a two-int array.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: the child runs `stress` and exits; it never returns here.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let outcome = stress(signals);
        // SAFETY: the outcome's bytes into the pipe, then exit at once.
        unsafe {
            libc::write(
                fds[1],
                std::ptr::from_ref(&outcome).cast(),
                size_of::<Outcome>(),
            );
            libc::_exit(0);
        }
    }
    // SAFETY: the parent keeps the read end only.
    unsafe { libc::close(fds[1]) };
    let start = Instant::now();
    let mut status = 0;
    let ended = loop {
        // SAFETY: our own child; `status` is writable.
        let reaped = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if reaped == pid {
            break true;
        }
        if start.elapsed() > deadline {
            // SAFETY: our own child, not reaped yet.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            break false;
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let mut outcome = Outcome::default();
    // SAFETY: reads at most an Outcome's bytes into one; then closes it.
    let read = unsafe {
        let n = libc::read(
            fds[0],
            std::ptr::from_mut(&mut outcome).cast(),
            size_of::<Outcome>(),
        );
        libc::close(fds[0]);
        n
    };
    if !ended {
        return Ok(None);
    }
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0)
        || read != size_of::<Outcome>() as isize
    {
        return Err(format!(
            "the child failed: wait status {status:#x}, {read} bytes of outcome"
        ));
    }
    Ok(Some(outcome))
}

#[leaklab::test]
fn a_sigalrm_handler_that_allocates_never_hangs_and_counts_stay_exact() {
    let signals = support::env_number("LEAKLAB_SIGNALS", 2000);
    let rounds = support::env_number("LEAKLAB_SIGNAL_ROUNDS", 5);
    let deadline = Duration::from_secs(support::env_number("LEAKLAB_SIGNAL_DEADLINE_S", 60));
    let (mut hangs, mut handled, mut untracked) = (0u64, 0u64, 0i64);
    let mut problems = Vec::new();
    for round_no in 0..rounds {
        match round(signals, deadline) {
            Ok(None) => hangs += 1,
            Err(e) => problems.push(format!("round {round_no}: {e}")),
            Ok(Some(o)) => {
                handled += o.signals;
                untracked += o.untracked;
                if (o.live_blocks, o.live_bytes, o.foreign_frees) != (0, 0, 0) {
                    problems.push(format!(
                        "round {round_no}: live blocks {:+}, live bytes {:+}, foreign frees {:+} \
                         after every block was freed",
                        o.live_blocks, o.live_bytes, o.foreign_frees
                    ));
                }
            }
        }
    }
    eprintln!(
        "signal stress: {rounds} rounds, {hangs} hangs, {handled} signals handled, \
         {untracked} handler blocks untracked"
    );
    assert_eq!(hangs, 0, "rounds hung (killed after {deadline:?})");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

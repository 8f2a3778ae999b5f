//! fork() while other threads allocate: the child must never start with a
//! lock of the interposer's side table held by a thread it does not have.
//!
//! Three threads allocate and free C memory without pause; the main thread
//! forks again and again; each child allocates, frees, reads the counters
//! (which takes every shard's lock) and exits. The parent waits for each
//! child with a deadline and kills it past it: a hang is counted, never
//! waited for. Before the fork handlers, 144 of 200 children hung.
//!
//! Rounds and deadline: `LEAKLAB_FORK_ROUNDS` (200), `LEAKLAB_FORK_DEADLINE_MS`
//! (10,000: far above the milliseconds a child takes on a loaded machine).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

mod support;

#[global_allocator]
static ALLOC: leaklab::Counting = leaklab::Counting::system();

/// The allocating threads: mostly small C blocks in a tight loop (most of
/// the time inside the side table), now and then calloc, realloc, a large
/// (mmapped) block and a Rust allocation.
fn allocate_until(stop: &AtomicBool, calls: &AtomicU64) {
    const SIZES: [usize; 4] = [16, 40, 200, 1500];
    let mut i = 0usize;
    while !stop.load(Relaxed) {
        let size = SIZES[i % SIZES.len()];
        // SAFETY: plain C allocations, each freed once, written in bounds.
        unsafe {
            let p = libc::malloc(size).cast::<u8>();
            assert!(!p.is_null());
            p.write(1);
            libc::free(p.cast());
            if i.is_multiple_of(64) {
                let q = libc::calloc(2, size);
                let r = libc::realloc(libc::malloc(200_000), 300_000);
                assert!(!q.is_null() && !r.is_null());
                libc::free(q);
                libc::free(r);
                std::hint::black_box(vec![0u8; size]);
            }
        }
        calls.fetch_add(1, Relaxed);
        i = i.wrapping_add(1);
    }
}

/// The child: allocate, free, and read the counters, which waits for every
/// shard of the side table; exit 0 if the counts moved by exactly what it
/// did, 1 if not. Nothing else: only the forking thread exists here.
fn child() -> ! {
    let before = leaklab::heap::c::stats();
    // SAFETY: plain C allocations, each freed once.
    let ok = unsafe {
        let p = libc::malloc(100);
        let q = libc::calloc(10, 10);
        let p = libc::realloc(p, 1000);
        let held = leaklab::heap::c::stats();
        libc::free(p);
        libc::free(q);
        !p.is_null()
            && !q.is_null()
            && held.live_blocks == before.live_blocks + 2
            && held.live_bytes == before.live_bytes + 1100
    };
    let after = leaklab::heap::c::stats();
    let ok = ok && after.live_blocks == before.live_blocks && after.live_bytes == before.live_bytes;
    // SAFETY: ends the child without running the parent's exit handlers.
    unsafe { libc::_exit(if ok { 0 } else { 1 }) }
}

/// Waits for `pid` until `deadline`; None if it had to be killed.
fn wait_with_deadline(pid: libc::pid_t, deadline: Duration) -> Option<libc::c_int> {
    let start = Instant::now();
    let mut status = 0;
    loop {
        // SAFETY: our own child; `status` is writable.
        let reaped = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if reaped == pid {
            return Some(status);
        }
        assert_eq!(reaped, 0, "waitpid failed");
        if start.elapsed() > deadline {
            // SAFETY: our own child, not reaped yet.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            return None;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

#[leaklab::test]
fn fork_while_three_threads_allocate_never_hangs_the_child() {
    let rounds = support::env_number("LEAKLAB_FORK_ROUNDS", 200);
    let deadline = Duration::from_millis(support::env_number("LEAKLAB_FORK_DEADLINE_MS", 10_000));
    assert!(leaklab::heap::c::is_counted(), "the interposer counts here");
    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..3)
        .map(|_| {
            let (stop, calls) = (stop.clone(), calls.clone());
            std::thread::spawn(move || allocate_until(&stop, &calls))
        })
        .collect();
    while calls.load(Relaxed) < 3000 {
        std::thread::yield_now();
    }
    let (mut hangs, mut failed) = (0u64, 0u64);
    let start = Instant::now();
    for _ in 0..rounds {
        // SAFETY: the child runs `child` only, which never returns.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            child();
        }
        match wait_with_deadline(pid, deadline) {
            None => hangs += 1,
            Some(status) if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 => {}
            Some(_) => failed += 1,
        }
    }
    stop.store(true, Relaxed);
    for t in threads {
        t.join().expect("an allocating thread");
    }
    eprintln!(
        "fork stress: {rounds} rounds, {hangs} hangs, {failed} failed children, \
         {} allocation loops meanwhile, {:.1} s",
        calls.load(Relaxed),
        start.elapsed().as_secs_f64()
    );
    assert_eq!(
        (hangs, failed),
        (0, 0),
        "children hung (killed after {deadline:?}) or miscounted"
    );
}

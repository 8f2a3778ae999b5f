//! A fault sweep survives the library it sweeps: a point at which the
//! library crashes (it used the NULL it got), calls `exit`, aborts or
//! hangs is one finding of the sweep, reported with the stack of the
//! allocation that was failed and the stack where the point's child
//! process ended, and the sweep goes on to the next point.
//!
//! The "libraries" here are glibc itself (`strdup`, whose NULL the caller
//! then gives to `strlen`) and small functions written as a C library
//! would be: the crate has no C compiler.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use leaklab::check::{self, FaultPoint, PointEnd, Sweep};

#[global_allocator]
static ALLOC: leaklab::Counting = leaklab::Counting::system();

/// A binding that copies a string with `strdup` and never checks the copy.
#[inline(never)]
fn unchecked_strdup_len() -> usize {
    // SAFETY: strdup of a C string; its result is freed. The NULL it gives
    // when its allocation fails goes to strlen unchecked: the bug.
    unsafe {
        let copy = libc::strdup(c"a string to copy".as_ptr());
        let len = libc::strlen(copy);
        libc::free(copy.cast());
        len
    }
}

/// Three allocations, the first and the last checked, the second not.
#[inline(never)]
fn second_of_three_unchecked() {
    // SAFETY: three mallocs, each freed once; the second's NULL is written
    // through (the bug), the others are checked.
    unsafe {
        let first = libc::malloc(16);
        if first.is_null() {
            return;
        }
        let second = libc::malloc(32).cast::<u8>();
        std::ptr::write_volatile(second, 7);
        let third = libc::malloc(48);
        if !third.is_null() {
            libc::free(third);
        }
        libc::free(second.cast());
        libc::free(first);
    }
}

/// A library that exits with status 3 when its allocation fails.
#[inline(never)]
fn exits_when_out_of_memory() {
    // SAFETY: a malloc/free pair; exit on NULL.
    unsafe {
        let p = libc::malloc(64);
        if p.is_null() {
            libc::exit(3);
        }
        libc::free(p);
    }
}

/// A library that aborts when its allocation fails.
#[inline(never)]
fn aborts_when_out_of_memory() {
    // SAFETY: a malloc/free pair; abort on NULL.
    unsafe {
        let p = libc::malloc(64);
        if p.is_null() {
            libc::abort();
        }
        libc::free(p);
    }
}

/// A library that waits forever when its allocation fails.
#[inline(never)]
fn hangs_when_out_of_memory() {
    // SAFETY: a malloc/free pair; on NULL, pause() until a signal.
    unsafe {
        let p = libc::malloc(64);
        if p.is_null() {
            loop {
                libc::pause();
            }
        }
        libc::free(p);
    }
}

/// Whether any of `frames` is in the function named `name` (a path's end).
fn names(frames: &[leaklab::check::Frame], name: &str) -> bool {
    frames.iter().any(|f| f.function.ends_with(name))
}

fn end_of(point: &FaultPoint, sweep: &Sweep) -> PointEnd {
    point
        .ended
        .clone()
        .unwrap_or_else(|| panic!("point {} returned: {sweep}", point.nth))
}

#[leaklab::test]
fn a_library_that_uses_an_unchecked_null_is_reported_crashed_with_both_stacks() {
    let sweep = check::fault_sweep(|| {
        std::hint::black_box(unchecked_strdup_len());
    })
    .expect("counted");
    eprintln!("{sweep}");
    assert_eq!(sweep.points.len(), 1, "{sweep}");
    let end = end_of(&sweep.points[0], &sweep);
    let PointEnd::Crashed {
        signal,
        failed_allocation,
        stack,
        ..
    } = &end
    else {
        panic!("not a crash: {end}");
    };
    assert_eq!(*signal, libc::SIGSEGV, "{end}");
    // The failed allocation: strdup's malloc, called from the binding.
    assert!(names(failed_allocation, "unchecked_strdup_len"), "{end}");
    assert!(
        failed_allocation[0].function.contains("strdup"),
        "the first frame is the C function that asked for the memory: {end}"
    );
    // The crash: in strlen, called from the binding.
    assert!(names(stack, "unchecked_strdup_len"), "{end}");
    assert!(stack[0].function.contains("strlen"), "{end}");
    // Nothing of the allocator, the handler or the sweep in either.
    for frame in failed_allocation.iter().chain(stack) {
        assert!(!frame.function.starts_with("leaklab::"), "{end}");
    }
    assert!(sweep.points[0].kept.is_clean() && !sweep.points[0].is_clean());
}

#[leaklab::test]
fn the_sweep_reaches_the_points_after_a_crash_and_measures_them() {
    let sweep = check::fault_sweep(second_of_three_unchecked).expect("counted");
    eprintln!("{sweep}");
    assert_eq!(sweep.points.len(), 3, "{sweep}");
    let [first, second, third] = &sweep.points[..] else {
        unreachable!()
    };
    assert!(first.ended.is_none() && first.is_clean(), "{sweep}");
    assert!(third.ended.is_none() && third.is_clean(), "{sweep}");
    // Point 3 was measured: its error path freed what it had (the third
    // malloc failed, the other two were freed).
    assert!(
        third.kept.c.is_clean() && third.first.c.is_clean(),
        "{sweep}"
    );
    let end = end_of(second, &sweep);
    assert!(
        matches!(
            end,
            PointEnd::Crashed {
                signal: libc::SIGSEGV,
                ..
            }
        ),
        "{end}"
    );
    assert!(
        names(end.failed_allocation(), "second_of_three_unchecked"),
        "{end}"
    );
    assert!(names(end.stack(), "second_of_three_unchecked"), "{end}");
    assert_eq!(sweep.ended().count(), 1);
    assert_eq!(sweep.leaking().count(), 0);
    // Both assertions fail on it, naming the point and its frames.
    for assertion in [Sweep::assert_no_leaks, Sweep::assert_no_crashes] {
        let message = std::panic::catch_unwind(|| assertion(&sweep))
            .expect_err("a crash is a finding")
            .downcast::<String>()
            .expect("a formatted message");
        assert!(message.contains("1 of 3 fault points"), "{message}");
        assert!(message.contains("C allocation 2 failed"), "{message}");
        assert!(message.contains("crashed (SIGSEGV)"), "{message}");
        assert!(message.contains("second_of_three_unchecked"), "{message}");
        assert!(!message.contains("C allocation 1 failed"), "{message}");
    }
    assert!(sweep.to_string().contains("1 never returned"), "{sweep}");
}

#[leaklab::test]
fn a_library_that_calls_exit_is_reported_exited_with_its_status() {
    let sweep = check::fault_sweep(exits_when_out_of_memory).expect("counted");
    eprintln!("{sweep}");
    assert_eq!(sweep.points.len(), 1, "{sweep}");
    let end = end_of(&sweep.points[0], &sweep);
    assert!(matches!(end, PointEnd::Exited { status: 3, .. }), "{end}");
    assert_eq!(end.how(), "exited with status 3");
    assert!(
        names(end.failed_allocation(), "exits_when_out_of_memory"),
        "{end}"
    );
    // The stack at the exit call: glibc's exit, called from the library.
    assert!(names(end.stack(), "exits_when_out_of_memory"), "{end}");
    assert!(
        end.stack().iter().any(|f| f.function.ends_with("exit")),
        "{end}"
    );
}

#[leaklab::test]
fn a_library_that_aborts_is_reported_crashed_by_sigabrt() {
    let sweep = check::fault_sweep(aborts_when_out_of_memory).expect("counted");
    eprintln!("{sweep}");
    let end = end_of(&sweep.points[0], &sweep);
    assert!(
        matches!(
            end,
            PointEnd::Crashed {
                signal: libc::SIGABRT,
                ..
            }
        ),
        "{end}"
    );
    assert!(names(end.stack(), "aborts_when_out_of_memory"), "{end}");
}

#[leaklab::test]
fn a_library_that_hangs_is_stopped_at_the_time_limit_with_where_it_was() {
    let limit = Duration::from_millis(500);
    let start = Instant::now();
    let sweep = check::fault_sweep_within(limit, hangs_when_out_of_memory).expect("counted");
    eprintln!("{sweep}");
    assert!(start.elapsed() < Duration::from_secs(30), "{sweep}");
    let end = end_of(&sweep.points[0], &sweep);
    assert!(
        matches!(end, PointEnd::TimedOut { limit: l, .. } if l == limit),
        "{end}"
    );
    assert!(end.how().starts_with("timed out"), "{end}");
    assert!(
        names(end.failed_allocation(), "hangs_when_out_of_memory"),
        "{end}"
    );
    assert!(names(end.stack(), "hangs_when_out_of_memory"), "{end}");
}

#[leaklab::test]
fn a_clean_closure_has_no_crash_and_is_measured_as_before() {
    let sweep = check::fault_sweep(|| {
        // SAFETY: two checked mallocs, each freed once (free(NULL) is a no-op).
        unsafe {
            let a = libc::malloc(24);
            let b = libc::calloc(4, 8);
            libc::free(a);
            libc::free(b);
        }
        drop(vec![1u8; 32]);
    })
    .expect("counted");
    assert_eq!(sweep.points.len(), 2, "{sweep}");
    assert_eq!(sweep.ended().count(), 0, "{sweep}");
    assert!(sweep.points.iter().all(FaultPoint::is_clean), "{sweep}");
    sweep.assert_no_leaks();
    sweep.assert_no_crashes();
}

#[leaklab::test]
fn a_leak_on_an_error_path_is_still_measured_in_the_test_process() {
    let sweep = check::fault_sweep(|| {
        // SAFETY: two mallocs; when either fails, the other is lost (the
        // bug measured); else both are freed.
        unsafe {
            let a = libc::malloc(40);
            let b = libc::malloc(8);
            if a.is_null() || b.is_null() {
                return;
            }
            libc::free(a);
            libc::free(b);
        }
    })
    .expect("counted");
    let lost: Vec<(u64, u64)> = sweep.leaking().map(|p| (p.nth, p.lost_bytes())).collect();
    assert_eq!(lost, vec![(1, 8), (2, 40)], "{sweep}");
    assert_eq!(sweep.ended().count(), 0, "{sweep}");
}

/// Blocks the stress test's library allocates per call.
const MANY: usize = 48;

/// A library call of [`MANY`] allocations (over most of the interposer's
/// side table), each checked but the 2nd.
#[inline(never)]
fn many_blocks_second_unchecked() {
    let mut blocks = [std::ptr::null_mut::<libc::c_void>(); MANY];
    // SAFETY: plain mallocs, each freed once; the 2nd's NULL is written
    // through (the bug), the others are checked.
    unsafe {
        for (i, block) in blocks.iter_mut().enumerate() {
            *block = libc::malloc(8 + 24 * i);
            if i == 1 {
                std::ptr::write_volatile(block.cast::<u8>(), 1);
            } else if block.is_null() {
                break;
            }
        }
        for block in blocks {
            libc::free(block);
        }
    }
}

/// C and Rust allocations in a tight loop until `stop`.
fn allocate_until(stop: &AtomicBool, loops: &AtomicU64) {
    let mut i = 0usize;
    while !stop.load(Relaxed) {
        // SAFETY: plain C allocations, each freed once.
        unsafe {
            let p = libc::malloc(16 + i % 200);
            let q = libc::realloc(libc::malloc(8), 1000 + i % 3000);
            libc::free(p);
            libc::free(q);
        }
        std::hint::black_box(vec![0u8; 1 + i % 100]);
        loops.fetch_add(1, Relaxed);
        i = i.wrapping_add(1);
    }
}

#[leaklab::test]
fn sweeps_while_other_threads_allocate_never_hang_and_find_the_same() {
    let stop = Arc::new(AtomicBool::new(false));
    let loops = Arc::new(AtomicU64::new(0));
    let mut threads: Vec<_> = (0..2)
        .map(|_| {
            let (stop, loops) = (stop.clone(), loops.clone());
            std::thread::spawn(move || allocate_until(&stop, &loops))
        })
        .collect();
    // A third measures a leak again and again: it takes the stack
    // recorder's lock, walks stacks and names them (the symbolizer's lock
    // and its addr2line pipes), none of which a child may need.
    let measured = Arc::new(AtomicU64::new(0));
    threads.push({
        let (stop, measured) = (stop.clone(), measured.clone());
        std::thread::spawn(move || {
            while !stop.load(Relaxed) {
                let m = check::measure(2, || {
                    // SAFETY: a malloc never freed: the leak measured.
                    std::hint::black_box(unsafe { libc::malloc(24) });
                })
                .expect("counted");
                assert!(!m.sites.is_empty(), "{m}");
                measured.fetch_add(1, Relaxed);
            }
        })
    });
    while loops.load(Relaxed) < 1000 || measured.load(Relaxed) < 1 {
        std::thread::yield_now();
    }
    // A child that hung on a lock another thread held at the fork would
    // be stopped at this limit and reported timed out: the test fails.
    let limit = Duration::from_secs(20);
    let start = Instant::now();
    let rounds = 10;
    let mut expected = vec!["returned".to_string(); MANY];
    expected[1] = "crashed (SIGSEGV)".into();
    for round in 0..rounds {
        let sweep =
            check::fault_sweep_within(limit, many_blocks_second_unchecked).expect("counted");
        let ends: Vec<String> = sweep
            .points
            .iter()
            .map(|p| p.ended.as_ref().map_or("returned".into(), PointEnd::how))
            .collect();
        assert_eq!(ends, expected, "round {round}: {sweep}");
        assert_eq!(
            sweep.points.iter().filter(|p| p.is_clean()).count(),
            MANY - 1,
            "{sweep}"
        );
    }
    stop.store(true, Relaxed);
    for t in threads {
        t.join().expect("an allocating thread");
    }
    eprintln!(
        "{rounds} sweeps ({} forks) while 2 threads allocated ({} loops) and one measured a \
         leak with its stacks ({} times): {:.2} s",
        rounds * MANY,
        loops.load(Relaxed),
        measured.load(Relaxed),
        start.elapsed().as_secs_f64()
    );
}

/// In a child of this test: as a user that may start no process (RLIMIT_NPROC
/// 0; root is exempt from it, so root becomes `nobody` first), a sweep
/// cannot fork its first point's child. Its exit code: 0 when the sweep
/// said so (CheckError::Isolation for point 1, naming fork), 1 when it did
/// anything else, 3 when the limit could not be set up.
fn sweep_without_fork() -> i32 {
    // SAFETY: plain calls on this (single-threaded, forked) process.
    unsafe {
        if libc::geteuid() == 0 && (libc::setgid(65534) != 0 || libc::setuid(65534) != 0) {
            return 3;
        }
        let none = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::setrlimit(libc::RLIMIT_NPROC, &none) != 0 {
            return 3;
        }
    }
    let result = check::fault_sweep(|| {
        // SAFETY: a malloc/free pair.
        unsafe { libc::free(libc::malloc(8)) }
    });
    match result {
        Err(e @ check::CheckError::Isolation { point: 1, .. })
            if e.to_string().contains("fork failed")
                && e.to_string()
                    .contains("could not be run in a child process") =>
        {
            eprintln!("as expected: {e}");
            0
        }
        other => {
            eprintln!("not the fork failure: {other:?}");
            1
        }
    }
}

#[leaklab::test]
fn a_fork_that_fails_is_an_error_naming_the_point_never_a_skipped_point() {
    // SAFETY: the child runs `sweep_without_fork` and `_exit`s; it never
    // returns into the test.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = std::panic::catch_unwind(sweep_without_fork).unwrap_or(2);
        // SAFETY: ends the child without the parent's exit handlers.
        unsafe { libc::_exit(code) };
    }
    let status = wait_for(pid);
    assert!(
        libc::WIFEXITED(status),
        "the child died: status {status:#x}"
    );
    match libc::WEXITSTATUS(status) {
        0 => {}
        3 => panic!("could not take the right to start processes away (setuid/setrlimit)"),
        code => panic!("the sweep did not report the failed fork (child exit {code})"),
    }
}

/// Waits for `pid` (a minute at most, then kills it); its wait status.
fn wait_for(pid: libc::pid_t) -> libc::c_int {
    let start = Instant::now();
    let mut status = 0;
    loop {
        // SAFETY: our own child; `status` is writable.
        let reaped = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if reaped == pid {
            return status;
        }
        if start.elapsed() > Duration::from_secs(60) {
            // SAFETY: our own child, not reaped yet.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            panic!("the child hung");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[leaklab::test]
fn c_output_pending_before_a_sweep_is_not_printed_again_by_a_library_exit() {
    let path = std::env::temp_dir().join(format!("leaklab-sweep-stdout-{}", std::process::id()));
    let c_path = std::ffi::CString::new(path.to_str().expect("a UTF-8 path")).expect("no NUL");
    // SAFETY: the child writes C's stdout to the file, sweeps, and
    // `_exit`s; it never returns into the test.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = std::panic::catch_unwind(|| {
            // SAFETY: our own descriptors; printf of a literal; the
            // stream is a file, so fully buffered: "pending" waits in
            // C's buffer while the sweep forks.
            unsafe {
                let fd = libc::open(
                    c_path.as_ptr(),
                    libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC,
                    0o600,
                );
                if fd < 0 || libc::dup2(fd, 1) < 0 {
                    return 3;
                }
                libc::printf(c"pending\n".as_ptr());
            }
            let sweep = check::fault_sweep(exits_when_out_of_memory).expect("counted");
            let exited = matches!(
                sweep.points[0].ended,
                Some(PointEnd::Exited { status: 3, .. })
            );
            // SAFETY: flushes C's streams.
            unsafe { libc::fflush(std::ptr::null_mut()) };
            if exited { 0 } else { 1 }
        })
        .unwrap_or(2);
        // SAFETY: ends the child without the parent's exit handlers.
        unsafe { libc::_exit(code) };
    }
    let status = wait_for(pid);
    let written = std::fs::read_to_string(&path).unwrap_or_default();
    let _ = std::fs::remove_file(&path);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "the child's sweep failed: status {status:#x}"
    );
    assert_eq!(
        written, "pending\n",
        "C output printed again by the library's exit"
    );
}

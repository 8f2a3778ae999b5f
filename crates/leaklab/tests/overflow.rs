//! Sizes that overflow, and sizes no allocator can satisfy: NULL with
//! ENOMEM (EINVAL for an impossible alignment), nothing counted, nothing
//! recorded, and no panic inside the allocator, also while allocation
//! stacks are recorded (whose fresh blocks add a header to the size: that
//! addition once wrapped, or panicked in a debug build).

use std::time::Duration;

use leaklab::heap::c;

mod support;

#[global_allocator]
static ALLOC: leaklab::Counting = leaklab::Counting::system();

fn errno() -> i32 {
    // SAFETY: this thread's errno slot.
    unsafe { *libc::__errno_location() }
}

fn clear_errno() {
    // SAFETY: this thread's errno slot.
    unsafe { *libc::__errno_location() = 0 };
}

unsafe extern "C" {
    fn valloc(size: usize) -> *mut libc::c_void;
    fn pvalloc(size: usize) -> *mut libc::c_void;
}

type Request = fn() -> *mut libc::c_void;

/// Every impossible request of the malloc family: each must fail cleanly.
fn impossible_requests() {
    const HUGE: usize = usize::MAX;
    // SAFETY (each call): the malloc family with sizes it must refuse.
    let requests: [(&str, Request, i32); 10] = [
        (
            "malloc(SIZE_MAX)",
            || unsafe { libc::malloc(HUGE) },
            libc::ENOMEM,
        ),
        (
            "malloc(PTRDIFF_MAX + 1)",
            || unsafe { libc::malloc(isize::MAX as usize + 1) },
            libc::ENOMEM,
        ),
        (
            "calloc(SIZE_MAX, 2)",
            || unsafe { libc::calloc(HUGE, 2) },
            libc::ENOMEM,
        ),
        (
            "calloc(2^33, 2^33)",
            || unsafe { libc::calloc(1 << 33, 1 << 33) },
            libc::ENOMEM,
        ),
        (
            "reallocarray(NULL, SIZE_MAX, 2)",
            || unsafe { libc::reallocarray(std::ptr::null_mut(), HUGE, 2) },
            libc::ENOMEM,
        ),
        (
            "memalign(64, SIZE_MAX)",
            || unsafe { libc::memalign(64, HUGE) },
            libc::ENOMEM,
        ),
        (
            "aligned_alloc(4096, SIZE_MAX)",
            || unsafe { libc::aligned_alloc(4096, HUGE) },
            libc::ENOMEM,
        ),
        (
            "memalign(SIZE_MAX, 16)",
            || unsafe { libc::memalign(HUGE, 16) },
            libc::EINVAL,
        ),
        ("valloc(SIZE_MAX)", || unsafe { valloc(HUGE) }, libc::ENOMEM),
        (
            "pvalloc(SIZE_MAX)",
            || unsafe { pvalloc(HUGE) },
            libc::ENOMEM,
        ),
    ];
    for (what, request, want) in requests {
        clear_errno();
        assert!(request().is_null(), "{what} returned a block");
        assert_eq!(errno(), want, "{what}'s errno");
    }
    // SAFETY: posix_memalign with a writable out pointer; a malloc/realloc
    // pair whose block is written and read in bounds and freed once.
    unsafe {
        let mut out = std::ptr::null_mut();
        assert_eq!(libc::posix_memalign(&mut out, 64, HUGE), libc::ENOMEM);
        assert!(out.is_null());
        // realloc to an impossible size: NULL, and the block stays the
        // caller's, intact and counted.
        let p = libc::malloc(16).cast::<u8>();
        assert!(!p.is_null());
        p.write_bytes(9, 16);
        clear_errno();
        assert!(libc::realloc(p.cast(), HUGE).is_null());
        assert_eq!(errno(), libc::ENOMEM);
        assert_eq!(std::slice::from_raw_parts(p, 16), &[9u8; 16]);
        libc::free(p.cast());
    }
}

#[leaklab::test]
fn impossible_sizes_return_null_and_count_nothing() {
    let (live, untracked, foreign) = (
        c::thread_live(),
        c::thread_untracked(),
        c::thread_foreign_frees(),
    );
    impossible_requests();
    assert_eq!(c::thread_live().since(live), Default::default());
    assert_eq!(c::thread_untracked(), untracked);
    assert_eq!(c::thread_foreign_frees(), foreign);
}

#[leaklab::test]
fn a_measurement_of_impossible_requests_is_clean() {
    leaklab::check::measure(5, impossible_requests)
        .expect("counted")
        .assert_clean();
}

/// While allocation stacks are recorded, blocks come from fresh addresses
/// with a header: in a child process (a panic inside the allocator would
/// abort the whole test binary), with a deadline.
#[leaklab::test]
fn impossible_sizes_while_recording_stacks_return_null() {
    const TEST: &str = "impossible_sizes_while_recording_stacks_return_null";
    if support::child_role().as_deref() == Some("recording") {
        let recording = leaklab::heap::stacks::start().expect("the recorder maps its store");
        impossible_requests();
        // A real block still comes from the fresh region.
        // SAFETY: a malloc/free pair.
        unsafe { libc::free(libc::malloc(32)) };
        let recorded = recording.stop();
        assert!(recorded.kept.is_empty(), "nothing kept");
        println!("\nrecorded impossible requests: ok");
        return;
    }
    let ended = support::run_child(TEST, "recording", Duration::from_secs(60));
    assert!(
        ended.code == Some(0) && ended.stdout.contains("recorded impossible requests: ok"),
        "the child failed ({:?}):\n{}\n{}",
        ended.code,
        ended.stdout,
        ended.stderr
    );
}

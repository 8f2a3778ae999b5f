//! Growing a buffer with realloc, 4 KiB at a time up to 32 MiB, then
//! shrinking it back: it completes in about the time glibc alone takes
//! (before, with freed memory scrubbed, every step moved, copied and zeroed
//! the whole block: more than 180 s where plain glibc takes 0.19 s), the
//! contents survive every step, and the counts are exact at every step.
//!
//! Run in child processes with a deadline (scrubbing freed memory is a
//! process-wide switch that stays on): one plain, one with `scrub_freed`
//! (as the preload shim runs under `cargo leaklab test`). Two rounds each:
//! before the second, a 16 MiB block is allocated and freed, which raises
//! glibc's mmap threshold to its size: blocks up to 16 MiB then come from
//! the heap rather than from mmap, the case where a grown block may have to
//! move.

use std::time::{Duration, Instant};

use leaklab::heap::c;

mod support;

#[global_allocator]
static ALLOC: leaklab::Counting = leaklab::Counting::system();

const TEST: &str = "realloc_growth_to_32_mib_in_4_kib_steps_is_fast_exact_and_intact";
const STEP: usize = 4096;
const TOP: usize = 32 << 20;

/// One round: grow, shrink, free; panics on a wrong count or byte.
fn round() {
    let base = c::thread_live();
    let expect = |size: usize| {
        let now = c::thread_live().since(base);
        assert_eq!(
            (now.blocks, now.bytes),
            (1, size as i64),
            "counts at {size} B"
        );
    };
    // SAFETY: one block, reallocated and written in bounds at each step,
    // freed at the end.
    unsafe {
        let mut p = libc::malloc(STEP).cast::<u8>();
        assert!(!p.is_null());
        p.write_bytes(0xA5, 8);
        p.add(STEP - 1).write(1);
        expect(STEP);
        let mut size = STEP;
        while size < TOP {
            let next = size + STEP;
            p = libc::realloc(p.cast(), next).cast();
            assert!(!p.is_null(), "realloc to {next}");
            assert_eq!(
                std::slice::from_raw_parts(p, 8),
                &[0xA5; 8],
                "head at {next}"
            );
            assert_eq!(
                p.add(size - 1).read(),
                (size / STEP) as u8,
                "tail at {next}"
            );
            p.add(next - 1).write((next / STEP) as u8);
            expect(next);
            size = next;
        }
        while size > STEP {
            let next = size - STEP;
            p = libc::realloc(p.cast(), next).cast();
            assert!(!p.is_null(), "realloc down to {next}");
            assert_eq!(
                std::slice::from_raw_parts(p, 8),
                &[0xA5; 8],
                "head at {next}"
            );
            assert_eq!(
                p.add(next - 1).read(),
                (next / STEP) as u8,
                "tail at {next}"
            );
            expect(next);
            size = next;
        }
        libc::free(p.cast());
    }
    assert_eq!(c::thread_live().since(base), Default::default());
}

#[leaklab::test]
fn realloc_growth_to_32_mib_in_4_kib_steps_is_fast_exact_and_intact() {
    if let Some(mode) = support::child_role() {
        if mode == "scrub" {
            leaklab::heap::interpose::scrub_freed();
        }
        for n in 1..=2 {
            if n == 2 {
                // SAFETY: a malloc/free pair.
                unsafe { libc::free(libc::malloc(16 << 20)) };
            }
            let start = Instant::now();
            round();
            println!("\n{mode} round {n}: {:.3} s", start.elapsed().as_secs_f64());
        }
        println!("\nrealloc growth: ok");
        return;
    }
    for mode in ["plain", "scrub"] {
        let ended = support::run_child(TEST, mode, Duration::from_secs(60));
        assert!(
            !ended.hung(),
            "{mode}: still growing after {:?}",
            ended.took
        );
        assert!(
            ended.code == Some(0) && ended.stdout.contains("realloc growth: ok"),
            "{mode}: the child failed ({:?}):\n{}\n{}",
            ended.code,
            ended.stdout,
            ended.stderr
        );
        for line in ended.stdout.lines().filter(|l| l.contains(" round ")) {
            eprintln!("{line}");
        }
    }
}

//! What leaklab::check costs per call of the measured closure, against the
//! bare closure, side by side in one run (criterion):
//!
//! - `bare`: the closure alone (in a binary that links the lab, so its
//!   counting allocator and C interposer are in, as in a user's tests;
//!   measured first, before anything turns on per-thread counting);
//! - `measure_counts`: inside `check::measure_counts`, per call;
//! - `measure`: inside `check::measure`, per call (a clean closure: no
//!   call is recorded, so it must equal `measure_counts`);
//! - `recorded`: a call with allocation stacks recorded (what each of the
//!   two extra calls after a found leak costs);
//! - `leaky/measure_1000`: a whole `check::measure(1000, …)` of a closure
//!   that leaks, with its recorded calls, reachability scan and
//!   symbolization, against `leaky/bare_1001`, the 1001 calls alone.
//!
//! The closure: the safe binding's query of two rows, result freed (C and
//! Rust allocations both); the leaky one also keeps a 64-byte Vec in a
//! list, emptied between samples so the process (whose writable memory the
//! reachability scan reads) stays the same size from sample to sample.
//! `cargo bench --bench check_cost`.

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use common::{QUERY, safe};
use criterion::{Criterion, criterion_group, criterion_main};
use leaklab::check;
use leaklab_lab::connector::safe::Connection;

fn per_call(c: &mut Criterion) {
    let mut g = c.benchmark_group("clean");
    let mut conn = Connection::open_default().expect("connect");
    g.bench_function("bare", |b| {
        b.iter(|| safe::measured_query_safe(&mut conn, black_box(QUERY)))
    });
    // iter_custom: one measurement of `iters` calls, timed per call (the
    // priming call included: the API makes it too).
    g.bench_function("measure_counts", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            check::measure_counts(iters, || {
                black_box(safe::measured_query_safe(&mut conn, QUERY));
            })
            .expect("counted")
            .assert_clean();
            start.elapsed()
        })
    });
    g.bench_function("measure", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            check::measure(iters, || {
                black_box(safe::measured_query_safe(&mut conn, QUERY));
            })
            .expect("counted")
            .assert_clean();
            start.elapsed()
        })
    });
    g.bench_function("recorded", |b| {
        b.iter_custom(|iters| {
            let recording = leaklab::heap::stacks::start().expect("mapped");
            let start = Instant::now();
            for _ in 0..iters {
                black_box(safe::measured_query_safe(&mut conn, QUERY));
            }
            let elapsed = start.elapsed();
            assert!(recording.stop().kept.is_empty());
            elapsed
        })
    });
    g.finish();
}

thread_local! {
    static KEPT: std::cell::RefCell<Vec<Vec<u8>>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn leaky_call(conn: &mut Connection) {
    black_box(safe::measured_query_safe(conn, QUERY));
    KEPT.with(|k| k.borrow_mut().push(black_box(vec![0u8; 64])));
}

fn release_kept() {
    KEPT.with(|k| *k.borrow_mut() = Vec::new());
}

fn whole(c: &mut Criterion) {
    let mut g = c.benchmark_group("leaky");
    g.sample_size(20);
    let mut conn = Connection::open_default().expect("connect");
    g.bench_function("bare_1001", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                (0..1001).for_each(|_| leaky_call(&mut conn));
                total += start.elapsed();
                release_kept();
            }
            total
        })
    });
    g.bench_function("measure_1000", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                let m = check::measure(1000, || leaky_call(&mut conn)).expect("counted");
                total += start.elapsed();
                release_kept();
                // 64 B per call, and the list's buffer now and then.
                assert!(m.rust.blocks >= 1000, "{m}");
                assert!(!m.sites.is_empty());
            }
            total
        })
    });
    g.finish();
}

// The whole measurement first: `clean/recorded` fills the fresh-address region
// (heap::fresh), which a later scan would then read.
criterion_group!(benches, whole, per_call);
criterion_main!(benches);

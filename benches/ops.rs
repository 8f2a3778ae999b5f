//! Wall-clock cost per operation (criterion): the safe binding against the
//! raw `sys` baseline, and the pure backend against the C one. The same
//! `measured_*` functions as the callgrind bench (benches/common).
//! `cargo bench --bench ops`; instruction counts: scripts/perf/callgrind.sh.

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use common::{Opts, QUERY, QUERY_ALL, raw, safe};
use criterion::{Criterion, criterion_group, criterion_main};
use leaklab_lab::connector::safe::{ConnectOptions, Connection};

fn connect(c: &mut Criterion) {
    let mut g = c.benchmark_group("connect");
    let (o, co) = (Opts::default(), ConnectOptions::default());
    g.bench_function("raw", |b| {
        b.iter(|| raw::measured_connect_raw(black_box(&o)))
    });
    g.bench_function("safe", |b| {
        b.iter(|| safe::measured_connect_safe(black_box(&co)))
    });
    g.bench_function("pure", |b| {
        b.iter(|| safe::measured_connect_pure(black_box(&co)))
    });
    g.finish();
}

fn query(c: &mut Criterion) {
    let mut g = c.benchmark_group("query");
    let h = raw::Handle::open();
    g.bench_function("raw", |b| {
        b.iter(|| raw::measured_query_raw(h.0, black_box(QUERY)))
    });
    let mut conn = Connection::open_default().expect("connect");
    g.bench_function("safe", |b| {
        b.iter(|| safe::measured_query_safe(&mut conn, black_box(QUERY)))
    });
    g.finish();
}

/// Times `iters` fetches, in runs of the result's rows; the query and the
/// free stay outside the timed part.
fn fetch(c: &mut Criterion) {
    let mut g = c.benchmark_group("fetch");
    let h = raw::Handle::grown();
    let rows = h.all_rows();
    g.bench_function("raw", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let result = h.store(QUERY_ALL);
                let take = rows.min(left);
                let start = Instant::now();
                (0..take).for_each(|_| {
                    black_box(raw::measured_fetch_raw(result));
                });
                total += start.elapsed();
                raw::measured_free_raw(result);
                left -= take;
            }
            total
        })
    });
    let mut conn = safe::grown();
    g.bench_function("safe", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let mut result = conn.query(QUERY_ALL).expect("query").expect("rows");
                let take = result.num_rows().min(left);
                let start = Instant::now();
                (0..take).for_each(|_| {
                    black_box(safe::measured_fetch_safe(&mut result));
                });
                total += start.elapsed();
                left -= take;
            }
            total
        })
    });
    g.finish();
}

/// Results from this many connections are freed in one timed run: a
/// connection holds one result at a time (the safe binding's borrow).
const FREE_BATCH: usize = 64;

fn free(c: &mut Criterion) {
    let mut g = c.benchmark_group("free");
    let handles: Vec<raw::Handle> = (0..FREE_BATCH).map(|_| raw::Handle::open()).collect();
    g.bench_function("raw", |b| {
        b.iter_custom(|iters| {
            batched(iters, || {
                let results: Vec<_> = handles.iter().map(|h| h.store(QUERY)).collect();
                let start = Instant::now();
                results.into_iter().for_each(raw::measured_free_raw);
                start.elapsed()
            })
        })
    });
    let mut conns: Vec<Connection> = (0..FREE_BATCH)
        .map(|_| Connection::open_default().expect("connect"))
        .collect();
    g.bench_function("safe", |b| {
        b.iter_custom(|iters| {
            batched(iters, || {
                let results: Vec<_> = conns
                    .iter_mut()
                    .map(|c| c.query(QUERY).expect("query").expect("rows"))
                    .collect();
                let start = Instant::now();
                results.into_iter().for_each(safe::measured_free_safe);
                start.elapsed()
            })
        })
    });
    g.finish();
}

/// Runs `batch` (which times FREE_BATCH operations) until `iters` are done.
fn batched(iters: u64, mut batch: impl FnMut() -> Duration) -> Duration {
    let runs = iters.div_ceil(FREE_BATCH as u64);
    let total: Duration = (0..runs).map(|_| batch()).sum();
    total.mul_f64(iters as f64 / (runs * FREE_BATCH as u64) as f64)
}

fn backends(c: &mut Criterion) {
    let mut g = c.benchmark_group("execute");
    let mut conn = Connection::open_default().expect("connect");
    g.bench_function("c", |b| {
        b.iter(|| safe::measured_execute_c(&mut conn, black_box(QUERY)))
    });
    let mut pure = safe::pure();
    g.bench_function("pure", |b| {
        b.iter(|| safe::measured_execute_pure(&mut pure, black_box(QUERY)))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = connect, query, fetch, free, backends
}
criterion_main!(benches);

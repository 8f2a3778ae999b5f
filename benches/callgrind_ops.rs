//! Runs one named operation N times, for callgrind to count instructions
//! (scripts/perf/callgrind.sh): `callgrind_ops <op> <n>`. Each operation is
//! one `measured_*` function in benches/common; the script collects only
//! inside it (`--toggle-collect`) and at two N, so setup never counts and
//! one-off costs (first-call symbol binding, heap growth) cancel in the
//! difference. Under `cargo bench` (no op given) every op runs 100 times
//! as a smoke test.

mod common;

use std::hint::black_box;

use common::{Opts, QUERY, QUERY_ALL, raw, safe};
use leaklab_lab::connector::safe::ConnectOptions;

/// Every operation's name, in the order the script reports them.
const OPS: &[&str] = &[
    "connect-raw",
    "connect-safe",
    "connect-pure",
    "query-raw",
    "query-safe",
    "fetch-raw",
    "fetch-safe",
    "fetch-row-raw",
    "fetch-row-safe",
    "free-raw",
    "free-safe",
    "execute-c",
    "execute-pure",
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [op, n] if !op.starts_with('-') => {
            let n: u64 = n.parse().expect("n: a count");
            run(op, n);
        }
        [op] if op == "list" => OPS.iter().for_each(|op| println!("{op}")),
        _ => OPS.iter().for_each(|op| run(op, 100)),
    }
}

fn run(op: &str, n: u64) {
    match op {
        "connect-raw" => {
            let o = Opts::default();
            (0..n).for_each(|_| assert!(raw::measured_connect_raw(black_box(&o))));
        }
        "connect-safe" => {
            let o = ConnectOptions::default();
            (0..n).for_each(|_| assert!(safe::measured_connect_safe(black_box(&o))));
        }
        "connect-pure" => {
            let o = ConnectOptions::default();
            (0..n).for_each(|_| assert!(safe::measured_connect_pure(black_box(&o))));
        }
        "query-raw" => {
            let h = raw::Handle::open();
            (0..n).for_each(|_| assert_eq!(raw::measured_query_raw(h.0, black_box(QUERY)), 1));
        }
        "query-safe" => {
            let mut c = leaklab_lab::connector::safe::Connection::open_default().expect("connect");
            (0..n).for_each(|_| assert_eq!(safe::measured_query_safe(&mut c, black_box(QUERY)), 1));
        }
        "fetch-raw" => {
            let h = raw::Handle::grown();
            let rows = h.all_rows();
            let mut left = n;
            while left > 0 {
                let result = h.store(QUERY_ALL);
                let take = rows.min(left);
                (0..take).for_each(|_| assert_ne!(raw::measured_fetch_raw(result), 0));
                raw::measured_free_raw(result);
                left -= take;
            }
        }
        "fetch-safe" => {
            let mut c = safe::grown();
            let mut left = n;
            while left > 0 {
                let mut r = c.query(QUERY_ALL).expect("query").expect("rows");
                let rows = r.num_rows().min(left);
                (0..rows).for_each(|_| assert_ne!(safe::measured_fetch_safe(&mut r), 0));
                left -= rows;
            }
        }
        "fetch-row-raw" => {
            let h = raw::Handle::grown();
            let rows = h.all_rows();
            let mut left = n;
            while left > 0 {
                let result = h.store(QUERY_ALL);
                // SAFETY: a live result; reads its width once.
                let width = unsafe { leaklab_lab::sys::lc_num_fields(result) } as usize;
                let take = rows.min(left);
                (0..take).for_each(|_| assert_ne!(raw::measured_fetch_row_raw(result, width), 0));
                raw::measured_free_raw(result);
                left -= take;
            }
        }
        "fetch-row-safe" => {
            let mut c = safe::grown();
            let mut left = n;
            while left > 0 {
                let mut r = c.query(QUERY_ALL).expect("query").expect("rows");
                let rows = r.num_rows().min(left);
                (0..rows).for_each(|_| assert_ne!(safe::measured_fetch_row_safe(&mut r), 0));
                left -= rows;
            }
        }
        "free-raw" => {
            let h = raw::Handle::open();
            (0..n).for_each(|_| raw::measured_free_raw(h.store(QUERY)));
        }
        "free-safe" => {
            let mut c = leaklab_lab::connector::safe::Connection::open_default().expect("connect");
            for _ in 0..n {
                let r = c.query(black_box(QUERY)).expect("query").expect("rows");
                safe::measured_free_safe(r);
            }
        }
        "execute-c" => {
            let mut c = leaklab_lab::connector::safe::Connection::open_default().expect("connect");
            (0..n).for_each(|_| {
                assert_ne!(
                    safe::measured_execute_c(&mut c, black_box(QUERY)),
                    usize::MAX
                )
            });
        }
        "execute-pure" => {
            let mut c = safe::pure();
            (0..n).for_each(|_| {
                assert_ne!(
                    safe::measured_execute_pure(&mut c, black_box(QUERY)),
                    usize::MAX
                )
            });
        }
        other => panic!("unknown op {other:?}; `callgrind_ops list` lists them"),
    }
}

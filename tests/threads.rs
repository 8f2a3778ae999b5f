//! Four threads, each with its own safe `Connection` (it is `Send`, not
//! `Sync`: one per thread), run 500 iterations of query + fetch + prepared
//! statement. Afterwards the C allocator's counters (atomics shared by
//! every thread) are back exactly at their baseline, and the process-wide
//! totals are the sum of what each thread was expected to do.
//!
//! Under valgrind (memcheck, `cargo leaklab test --detector valgrind`, or helgrind for
//! data races and lock misuse) valgrind's malloc replaces the executable's
//! interposer, so the C counters are not live: the counting test then runs
//! natively in a child process (tests/in_child), and the other test runs
//! the same threads in this process, under the tool, checking what they
//! saw. Under helgrind, the threads are:
//!
//! ```text
//! cargo test --test threads --no-run
//! valgrind --tool=helgrind --soname-synonyms=somalloc=NONE \
//!     --suppressions=valgrind/helgrind.supp --error-exitcode=1 target/debug/deps/threads-*
//! ```
//!
//! (pick the executable, not the `.d` file, if several match). A clean run
//! ends with "ERROR SUMMARY: 0 errors". The suppressions file silences only
//! std's own thread bookkeeping (see its comments).

use leaklab::heap::c as c_heap;
use leaklab_lab::connector::pure::PureConnection;
use leaklab_lab::connector::safe::Connection;
use leaklab_lab::connector::{Backend, Param};

mod in_child;

const THREADS: usize = 4;
const ITERATIONS: usize = 500;

const QUERY: &str = "SELECT name, age, score FROM people WHERE age > 20";
const PREPARED: &str = "SELECT name FROM people WHERE score >= ?";
const BOUND: f64 = 70.0;

/// What one iteration sees: rows of the query and of the statement.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Seen {
    rows: u64,
    statement_rows: u64,
}

/// One iteration on `conn`: the query with every row fetched, then the
/// prepared statement bound, executed, stored and fetched.
fn iteration(conn: &mut Connection) -> Seen {
    let mut seen = Seen::default();
    let mut result = conn.query(QUERY).expect("query").expect("a result set");
    while let Some(row) = result.fetch() {
        std::hint::black_box(row.get_bytes(0).expect("name"));
        seen.rows += 1;
    }
    drop(result);
    let mut stmt = conn.prepare(PREPARED).expect("prepare");
    stmt.bind(0, &Param::Double(BOUND)).expect("bind");
    stmt.execute().expect("execute");
    let mut result = stmt.store_result().expect("store").expect("a result set");
    while let Some(row) = result.fetch() {
        std::hint::black_box(row.get_bytes(0).expect("name"));
        seen.statement_rows += 1;
    }
    seen
}

/// The rows each iteration must see, from the reference (pure) backend.
fn reference() -> Seen {
    let mut pure = PureConnection::connect("localhost", "lab", "lab", "shop").expect("pure");
    Seen {
        rows: pure.execute(QUERY).expect("query").rows.len() as u64,
        statement_rows: pure
            .execute_prepared(PREPARED, &[Param::Double(BOUND)])
            .expect("prepared")
            .rows
            .len() as u64,
    }
}

/// C allocations of one connection's life and of one iteration, measured
/// on this thread alone before any other thread starts.
fn allocations_per_connection_and_iteration() -> (u64, u64) {
    let start = c_heap::stats().total_allocs;
    let mut conn = Connection::open_default().expect("connect");
    let opened = c_heap::stats().total_allocs;
    iteration(&mut conn);
    let iterated = c_heap::stats().total_allocs;
    drop(conn);
    (opened - start, iterated - opened)
}

struct ThreadOutcome {
    seen: Seen,
    status: String,
    /// What this thread's own C allocations kept, start to end.
    kept: leaklab::heap::Live,
}

fn worker() -> ThreadOutcome {
    let start = c_heap::thread_live();
    let mut conn = Connection::open_default().expect("connect");
    let mut seen = Seen::default();
    for _ in 0..ITERATIONS {
        let one = iteration(&mut conn);
        seen.rows += one.rows;
        seen.statement_rows += one.statement_rows;
    }
    let status = conn.stat().expect("stat");
    conn.close().map_err(|(_, e)| e).expect("close");
    let kept = c_heap::thread_live().since(start);
    ThreadOutcome { seen, status, kept }
}

/// One test at a time: the process-wide totals must see one test's threads.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The workers, [`THREADS`] at once, each with its connection; with
/// the C counters' totals right before they start and after they end.
fn run_workers() -> (c_heap::Stats, Vec<ThreadOutcome>, c_heap::Stats) {
    // glibc allocates a new thread's TLS with malloc and keeps it with the
    // thread's stack in its cache after the thread ends: start and join as
    // many threads once, so the measured round reuses them.
    let spawn_threads = || {
        std::thread::scope(|s| {
            for _ in 0..THREADS {
                s.spawn(|| ());
            }
        })
    };
    spawn_threads();
    let baseline = c_heap::stats();
    let outcomes: Vec<ThreadOutcome> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS).map(|_| s.spawn(worker)).collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("worker"))
            .collect()
    });
    let after = c_heap::stats();
    (baseline, outcomes, after)
}

/// Each thread saw every row of every iteration, and its connection's
/// status line counts 2 statements per iteration (the query and the
/// execute) over the seeded, unchanged table.
fn assert_all_work_seen(per_iteration: Seen, outcomes: &[ThreadOutcome]) {
    assert_eq!(outcomes.len(), THREADS);
    let expected_status = format!(
        "Queries: {}  Rows: {}",
        2 * ITERATIONS,
        leaklab_lab::sys::LC_SEED_ROWS
    );
    for outcome in outcomes {
        assert_eq!(
            outcome.seen,
            Seen {
                rows: per_iteration.rows * ITERATIONS as u64,
                statement_rows: per_iteration.statement_rows * ITERATIONS as u64,
            }
        );
        assert_eq!(outcome.status, expected_status);
    }
}

/// The threads in this process, whether or not the C counters are live:
/// under valgrind this is the test the tool checks (memcheck: no invalid
/// access and nothing lost; helgrind: no race), as it runs here.
#[test]
fn threads_with_their_own_connections_see_every_row() {
    let _turn = serial();
    let per_iteration = reference();
    assert!(per_iteration.rows > 0 && per_iteration.statement_rows > 0);
    let (_, outcomes, _) = run_workers();
    assert_all_work_seen(per_iteration, &outcomes);
}

#[test]
fn threads_with_their_own_connections_leave_the_c_counters_at_baseline() {
    in_child::with_c_counters(
        "threads_with_their_own_connections_leave_the_c_counters_at_baseline",
        counters_at_baseline,
    );
}

fn counters_at_baseline() {
    let _turn = serial();
    let per_iteration = reference();
    assert!(per_iteration.rows > 0 && per_iteration.statement_rows > 0);
    let (per_connection, per_iteration_allocs) = allocations_per_connection_and_iteration();
    assert!(per_iteration_allocs > 0);
    let (baseline, outcomes, after) = run_workers();
    assert_all_work_seen(per_iteration, &outcomes);

    // Each thread's own C allocations are all freed, exactly...
    for outcome in &outcomes {
        assert_eq!(
            outcome.kept,
            leaklab::heap::Live::default(),
            "C left behind"
        );
    }
    // ...and process-wide the count moves only by what glibc allocates or
    // frees with the thread stacks it caches (a thread's TLS: a block a
    // thread, one way or the other), this test's workers' and, in a
    // process shared with the other test of this file, its workers' too
    // (their cached stacks reused here free their TLS: seen as -6 under
    // load with 4 workers each).
    let kept_blocks = after.live_blocks - baseline.live_blocks;
    let cached = 2 * THREADS as i64;
    assert!(
        (-cached..=cached).contains(&kept_blocks),
        "{kept_blocks} C blocks left behind"
    );
    assert_eq!(after.failed_allocs, baseline.failed_allocs);
    // lc_stat allocates its line: one block per connection.
    let stat_allocs = 1;
    let expected_total =
        THREADS as u64 * (per_connection + ITERATIONS as u64 * per_iteration_allocs + stat_allocs);
    // Every thread did all its work: at least these C allocations, plus the
    // few glibc makes to start a thread (their number varies with its
    // stack cache, so the total is a floor; the live counts above are exact).
    let total = after.total_allocs - baseline.total_allocs;
    assert!(
        (expected_total..expected_total + 16 * THREADS as u64).contains(&total),
        "{total} C allocations, expected {expected_total} plus thread start-up"
    );
}

//! Fault-injection sweep over a tour of the whole safe API (more of it than
//! any one registered scenario touches): connect, callbacks that continue,
//! stop and panic, queries good and bad, INSERT/DELETE, prepared statements
//! with good and bad binds, metadata, expanded SQL, stat, close.
//!
//! At every failed C allocation the tour must end in an `Err` (or finish),
//! never panic past the binding, and leave nothing allocated on either side.
//! Fault injection fails C allocations at the counted allocator, which
//! valgrind replaces: under valgrind the sweep runs natively in a child
//! process (tests/in_child).

use leaklab_lab::connector::safe::{CallbackRow, Connection};
use leaklab_lab::connector::types::code;
use leaklab_lab::connector::{Error, Param};
use leaklab_lab::hardening::faults::{Outcome, sweep};
use leaklab_lab::scenarios::code::Code;
use leaklab_lab::scenarios::{BackendChoice, Expected, Iteration, Origin, Scenario, Variant};

mod in_child;

static TOUR: Scenario = Scenario {
    id: "safe-api-tour",
    title: "every safe API path, for the fault sweep",
    origin: Origin {
        source: "rust-binding",
        reference: "tests/faults_safe_tour.rs",
    },
    pattern: "none: a clean workload",
    fix: "none",
    library: "connector",
    leaky: tour,
    safe: tour,
    safe_backend: BackendChoice::C,
    pure_capable: false,
    expected: |_, _| Expected::CLEAN,
    iteration_budget: None,
    source_file: "tests/faults_safe_tour.rs",
    source: "",
    code: Code {
        leaky: &[],
        safe: &[],
    },
};

/// `Ok` if `r` is Ok or failed with one of `codes` (the step's designed
/// failure); an out-of-memory error (or any other) ends the tour.
fn allow<T>(r: Result<T, Error>, codes: &[u32]) -> Result<Option<T>, String> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.code().is_some_and(|c| codes.contains(&c)) => Ok(None),
        Err(Error::CallbackPanicked { .. }) if codes.is_empty() => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

fn rows(conn: &mut Connection, sql: &str, codes: &[u32]) -> Result<usize, String> {
    let mut n = 0;
    if let Some(Some(mut result)) = allow(conn.query(sql), codes)? {
        result.fields().map_err(|e| e.to_string())?;
        while let Some(row) = result.fetch() {
            std::hint::black_box(row.to_vec());
            n += 1;
        }
    }
    Ok(n)
}

fn prepared(conn: &mut Connection) -> Result<(), String> {
    let mut stmt = conn
        .prepare("SELECT name, score FROM people WHERE name != ?")
        .map_err(|e| e.to_string())?;
    allow(stmt.bind(0, &Param::Text(b"b'o\\b".to_vec())), &[])?;
    allow(stmt.bind(0, &Param::Text(b"bob".to_vec())), &[])?;
    allow(stmt.bind(1, &Param::Int(1)), &[code::INVALID_PARAMETER_NO])?;
    allow(stmt.expanded_sql(), &[])?;
    if let Some(Some(meta)) = allow(stmt.metadata(), &[])? {
        meta.fields().map_err(|e| e.to_string())?;
    }
    allow(stmt.execute(), &[])?;
    if let Some(Some(mut result)) = allow(stmt.store_result(), &[])? {
        while let Some(row) = result.fetch() {
            std::hint::black_box(row.to_vec());
        }
    }
    stmt.close().map_err(|e| e.to_string())?;

    let mut insert = conn
        .prepare("INSERT INTO people VALUES (?, ?, ?)")
        .map_err(|e| e.to_string())?;
    insert
        .bind_all(&[
            Param::Text(b"zed".to_vec()),
            Param::Int(50),
            Param::Double(1.5),
        ])
        .map_err(|e| e.to_string())?;
    allow(insert.execute(), &[])?;
    insert
        .bind(1, &Param::Double(2.5))
        .map_err(|e| e.to_string())?;
    allow(insert.execute(), &[code::WRONG_VALUE])?;
    drop(insert);
    allow(conn.prepare("SELECT nope FROM people"), &[code::BAD_FIELD])?;
    allow(conn.prepare("SELECT FROM"), &[code::PARSE])?;
    Ok(())
}

fn callbacks(conn: &mut Connection) -> Result<(), String> {
    conn.set_row_callback(|row: &CallbackRow<'_>| row.get(0).is_some());
    rows(conn, "SELECT * FROM people", &[])?;
    let mut seen = 0;
    conn.set_row_callback(move |_: &CallbackRow<'_>| {
        seen += 1;
        seen < 2
    });
    rows(conn, "SELECT * FROM people", &[code::QUERY_INTERRUPTED])?;
    conn.set_row_callback(|_: &CallbackRow<'_>| panic!("callback panics on purpose"));
    rows(conn, "SELECT * FROM people", &[])?;
    conn.clear_row_callback();
    Ok(())
}

fn tour(_: BackendChoice) -> Result<Iteration, String> {
    let mut conn = Connection::open_default().map_err(|e| e.to_string())?;
    Ok(Box::new(move || {
        callbacks(&mut conn)?;
        rows(
            &mut conn,
            "SELECT name, age FROM people WHERE score > 60.5 LIMIT 3",
            &[],
        )?;
        rows(&mut conn, "SELECT * FROM people WHERE name = 'it''s'", &[])?;
        rows(&mut conn, "SELECT nope FROM people", &[code::BAD_FIELD])?;
        rows(&mut conn, "SELECT * FRM people", &[code::PARSE])?;
        rows(&mut conn, "INSERT INTO people VALUES ('x', 1, 2.5)", &[])?;
        rows(&mut conn, "DELETE FROM people WHERE age < 20", &[])?;
        std::hint::black_box(conn.escape(b"a'b\n"));
        allow(conn.stat(), &[])?;
        prepared(&mut conn)?;
        let closing = Connection::open_default().map_err(|e| e.to_string())?;
        closing.close().map_err(|(_, e)| e.to_string())?;
        Ok(())
    }))
}

#[test]
fn the_safe_api_tour_releases_everything_on_every_error_path() {
    in_child::with_c_counters(
        "the_safe_api_tour_releases_everything_on_every_error_path",
        || {
            let report = sweep(&TOUR, Variant::Safe, BackendChoice::C);
            assert!(report.complete, "the sweep never ran the whole tour");
            assert!(
                report.failures_injected > 20,
                "the tour made only {} C allocations: it does not reach much of the API",
                report.failures_injected
            );
            // The last point runs the tour unharmed: it must succeed.
            let last = report.points.last().expect("points");
            assert_eq!(
                last.outcome,
                Outcome::Ok,
                "the unharmed tour failed: {last:?}"
            );
            let bad: Vec<_> = report
                .points
                .iter()
                .filter(|p| p.leaks_raw() || p.outcome == Outcome::Panic)
                .collect();
            assert!(bad.is_empty(), "points that leaked or panicked: {bad:#?}");
        },
    );
}

//! Random sequences of operations on the safe API leave nothing behind.
//!
//! Each case runs up to two connection slots through connects (good and
//! bad), queries (good, parse errors, unknown columns, wrong types, empty,
//! interior NUL, too long), partial fetches, prepared statements with good
//! and bad binds, row callbacks (set, replaced, cleared, one that stops the
//! query, one that panics), results and statements from both slots held at
//! once and dropped in either order, and `close()` versus drop. After every
//! case the C live blocks and the Rust heap are exactly where they were.
//!
//! The measured window is the case body only: proptest generates the case
//! value before the body runs, and failure messages are built after the
//! window closes. This binary holds this one test, so no other test thread
//! allocates while a case is measured.

use leaklab::heap::Snapshot;
use leaklab_lab::connector::pure::quote_text;
use leaklab_lab::connector::safe::{
    CallbackRow, ConnectOptions, Connection, QueryResult, Statement,
};
use leaklab_lab::connector::types::{MAX_QUERY_LEN, code};
use leaklab_lab::connector::{Error, Param};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

const SLOTS: usize = 2;

#[derive(Debug, Clone)]
enum Sql {
    /// A SELECT that runs; `limit` may cut it.
    Select {
        cols: u8,
        filter: Option<Filter>,
        limit: Option<u8>,
    },
    Insert {
        name: Vec<u8>,
        age: i64,
        score: f64,
    },
    Delete {
        filter: Filter,
    },
    /// Each one fails before or in C with a known error.
    Bad(BadSql),
}

#[derive(Debug, Clone)]
enum Filter {
    Name(Vec<u8>),
    Age(i64),
    Score(f64),
}

#[derive(Debug, Clone, Copy)]
enum BadSql {
    Parse,
    UnknownColumn,
    UnknownTable,
    WrongValue,
    Empty,
    InteriorNul,
    TooLong,
}

#[derive(Debug, Clone)]
enum Bind {
    Good(Param),
    /// Past the parameter count.
    BadIndex,
}

#[derive(Debug, Clone, Copy)]
enum Callback {
    Continue,
    StopAfter(u8),
    PanicAfter(u8),
}

#[derive(Debug, Clone)]
enum Hold {
    Result { sql: Sql, fetch: u8 },
    Statement { age: i64, fetch: u8 },
}

#[derive(Debug, Clone)]
enum Op {
    Connect {
        slot: usize,
        good: bool,
    },
    Close {
        slot: usize,
        explicit: bool,
    },
    Query {
        slot: usize,
        sql: Sql,
        fetch: u8,
    },
    Prepared {
        slot: usize,
        binds: Vec<Bind>,
        fetch: u8,
        metadata: bool,
        expanded: bool,
        close: bool,
    },
    SetCallback {
        slot: usize,
        callback: Callback,
    },
    ClearCallback {
        slot: usize,
    },
    Stat {
        slot: usize,
    },
    Escape {
        slot: usize,
        input: Vec<u8>,
    },
    /// Holds one object from each slot at once, then drops them in order.
    Pair {
        first: Hold,
        second: Hold,
        drop_first_first: bool,
    },
}

fn text() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(b"ab'\\\" \n\0z".to_vec()), 0..6)
}

fn filter() -> impl Strategy<Value = Filter> {
    prop_oneof![
        text().prop_map(Filter::Name),
        (-5i64..60).prop_map(Filter::Age),
        (0.0f64..100.0).prop_map(Filter::Score),
    ]
}

fn bad_sql() -> impl Strategy<Value = BadSql> {
    prop::sample::select(vec![
        BadSql::Parse,
        BadSql::UnknownColumn,
        BadSql::UnknownTable,
        BadSql::WrongValue,
        BadSql::Empty,
        BadSql::InteriorNul,
        BadSql::TooLong,
    ])
}

fn sql() -> impl Strategy<Value = Sql> {
    prop_oneof![
        4 => (1u8..8, prop::option::of(filter()), prop::option::of(0u8..7))
            .prop_map(|(cols, filter, limit)| Sql::Select { cols, filter, limit }),
        1 => (text(), 0i64..99, 0.0f64..100.0)
            .prop_map(|(name, age, score)| Sql::Insert { name, age, score }),
        1 => filter().prop_map(|filter| Sql::Delete { filter }),
        3 => bad_sql().prop_map(Sql::Bad),
    ]
}

fn bind() -> impl Strategy<Value = Bind> {
    prop_oneof![
        3 => (0i64..60).prop_map(|v| Bind::Good(Param::Int(v))),
        1 => (0.0f64..60.0).prop_map(|v| Bind::Good(Param::Double(v))),
        1 => text().prop_map(|v| Bind::Good(Param::Text(v))),
        1 => Just(Bind::BadIndex),
    ]
}

fn callback() -> impl Strategy<Value = Callback> {
    prop_oneof![
        Just(Callback::Continue),
        (0u8..6).prop_map(Callback::StopAfter),
        (0u8..6).prop_map(Callback::PanicAfter),
    ]
}

fn hold_strategy() -> impl Strategy<Value = Hold> {
    prop_oneof![
        (sql(), 0u8..7).prop_map(|(sql, fetch)| Hold::Result { sql, fetch }),
        (0i64..60, 0u8..7).prop_map(|(age, fetch)| Hold::Statement { age, fetch }),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let slot = 0..SLOTS;
    prop_oneof![
        3 => (slot.clone(), prop::bool::weighted(0.7)).prop_map(|(slot, good)| Op::Connect { slot, good }),
        1 => (slot.clone(), any::<bool>()).prop_map(|(slot, explicit)| Op::Close { slot, explicit }),
        6 => (slot.clone(), sql(), 0u8..7).prop_map(|(slot, sql, fetch)| Op::Query { slot, sql, fetch }),
        3 => (slot.clone(), prop::collection::vec(bind(), 0..3), 0u8..7, any::<bool>(), any::<bool>(), any::<bool>())
            .prop_map(|(slot, binds, fetch, metadata, expanded, close)| Op::Prepared { slot, binds, fetch, metadata, expanded, close }),
        2 => (slot.clone(), callback()).prop_map(|(slot, callback)| Op::SetCallback { slot, callback }),
        1 => slot.clone().prop_map(|slot| Op::ClearCallback { slot }),
        1 => slot.clone().prop_map(|slot| Op::Stat { slot }),
        1 => (slot, text()).prop_map(|(slot, input)| Op::Escape { slot, input }),
        2 => (hold_strategy(), hold_strategy(), any::<bool>())
            .prop_map(|(first, second, drop_first_first)| Op::Pair { first, second, drop_first_first }),
    ]
}

fn lit(filter: &Filter) -> String {
    match filter {
        Filter::Name(v) => format!("name = {}", String::from_utf8_lossy(&quote_text(v))),
        Filter::Age(v) => format!("age < {v}"),
        Filter::Score(v) => format!("score >= {v:.2}"),
    }
}

/// The statement text and the error it must give (`None`: it succeeds).
fn render(sql: &Sql) -> (String, Option<Expect>) {
    const COLUMNS: [&str; 3] = ["name", "age", "score"];
    match sql {
        Sql::Select {
            cols,
            filter,
            limit,
        } => {
            let names: Vec<&str> = (0..3)
                .filter(|i| cols & (1 << i) != 0)
                .map(|i| COLUMNS[i])
                .collect();
            let mut q = format!("SELECT {} FROM people", names.join(", "));
            if let Some(f) = filter {
                q += &format!(" WHERE {}", lit(f));
            }
            if let Some(l) = limit {
                q += &format!(" LIMIT {l}");
            }
            (q, None)
        }
        Sql::Insert { name, age, score } => (
            format!(
                "INSERT INTO people VALUES ({}, {age}, {score:.2})",
                String::from_utf8_lossy(&quote_text(name))
            ),
            None,
        ),
        Sql::Delete { filter } => (format!("DELETE FROM people WHERE {}", lit(filter)), None),
        Sql::Bad(bad) => {
            let (q, e) = match bad {
                BadSql::Parse => ("SELECT FROM people".to_owned(), Expect::Code(code::PARSE)),
                BadSql::UnknownColumn => (
                    "SELECT nope FROM people".into(),
                    Expect::Code(code::BAD_FIELD),
                ),
                BadSql::UnknownTable => (
                    "SELECT * FROM cats".into(),
                    Expect::Code(code::NO_SUCH_TABLE),
                ),
                BadSql::WrongValue => (
                    "SELECT * FROM people WHERE age = 'x'".into(),
                    Expect::Code(code::WRONG_VALUE),
                ),
                BadSql::Empty => (" ; ".into(), Expect::Code(code::EMPTY_QUERY)),
                BadSql::InteriorNul => ("SELECT *\0 FROM people".into(), Expect::InteriorNul),
                BadSql::TooLong => (
                    format!("SELECT * FROM people{}", " ".repeat(MAX_QUERY_LEN)),
                    Expect::TooLong,
                ),
            };
            (q, Some(e))
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Expect {
    Code(u32),
    InteriorNul,
    TooLong,
}

fn matches(e: &Error, expect: Expect) -> bool {
    match expect {
        Expect::Code(c) => e.code() == Some(c),
        Expect::InteriorNul => matches!(e, Error::InteriorNul { .. }),
        Expect::TooLong => matches!(e, Error::QueryTooLong { .. }),
    }
}

type Case = Result<(), String>;

fn fetch_some(result: &mut QueryResult<'_>, n: u8) -> Case {
    result.fields().map_err(|e| e.to_string())?;
    for _ in 0..n {
        let Some(row) = result.fetch() else { break };
        std::hint::black_box(row.to_vec());
    }
    Ok(())
}

/// Runs `sql`; checks a bad one fails as designed. A callback's stop or
/// panic is an accepted outcome of a good one.
fn query<'c>(conn: &'c mut Connection, sql: &Sql) -> Result<Option<QueryResult<'c>>, String> {
    let (text, expect) = render(sql);
    match (conn.query(&text), expect) {
        (Ok(result), None) => Ok(result),
        (Err(e), Some(x)) if matches(&e, x) => Ok(None),
        (Err(Error::CallbackPanicked { .. }), None) => Ok(None),
        (Err(e), None) if e.code() == Some(code::QUERY_INTERRUPTED) => Ok(None),
        (other, expect) => Err(format!(
            "{text:?}: expected {expect:?}, got {:?}",
            other.map(|r| r.is_some())
        )),
    }
}

fn prepare_select(conn: &mut Connection) -> Result<Statement<'_>, String> {
    conn.prepare("SELECT name, score FROM people WHERE age > ?")
        .map_err(|e| e.to_string())
}

fn prepared(
    conn: &mut Connection,
    binds: &[Bind],
    fetch: u8,
    metadata: bool,
    expanded: bool,
    close: bool,
) -> Case {
    let mut stmt = prepare_select(conn)?;
    let mut bound = false;
    for b in binds {
        match (
            b,
            stmt.bind(
                if matches!(b, Bind::BadIndex) { 1 } else { 0 },
                match b {
                    Bind::Good(p) => p,
                    Bind::BadIndex => &Param::Int(0),
                },
            ),
        ) {
            (Bind::Good(_), Ok(())) => bound = true,
            (Bind::BadIndex, Err(e)) if e.code() == Some(code::INVALID_PARAMETER_NO) => {}
            (b, r) => return Err(format!("bind {b:?}: {r:?}")),
        }
    }
    if metadata {
        let meta = stmt
            .metadata()
            .map_err(|e| e.to_string())?
            .ok_or("no metadata")?;
        meta.fields().map_err(|e| e.to_string())?;
    }
    if expanded {
        stmt.expanded_sql().map_err(|e| e.to_string())?;
    }
    // `age > ?`: only an INT fits the INT column (a DOUBLE fits DOUBLE only).
    let last_type_ok = matches!(
        binds.iter().rev().find(|b| matches!(b, Bind::Good(_))),
        Some(Bind::Good(Param::Int(_))) | None
    );
    match stmt.execute() {
        Ok(()) if bound && last_type_ok => {
            if let Some(mut result) = stmt.store_result().map_err(|e| e.to_string())? {
                fetch_some(&mut result, fetch)?;
            }
        }
        Err(e) if !bound && e.code() == Some(code::PARAMS_NOT_BOUND) => {}
        Err(e) if !last_type_ok && e.code() == Some(code::WRONG_VALUE) => {}
        other => return Err(format!("execute with {binds:?}: {other:?}")),
    }
    if close {
        stmt.close().map_err(|e| e.to_string())
    } else {
        Ok(())
    }
}

fn set_callback(conn: &mut Connection, callback: Callback) {
    let mut seen = 0u8;
    match callback {
        Callback::Continue => conn.set_row_callback(|row: &CallbackRow<'_>| row.get(0).is_some()),
        Callback::StopAfter(k) => conn.set_row_callback(move |_: &CallbackRow<'_>| {
            seen += 1;
            seen <= k
        }),
        Callback::PanicAfter(k) => conn.set_row_callback(move |_: &CallbackRow<'_>| {
            seen += 1;
            assert!(seen <= k, "callback panics at row {seen}");
            true
        }),
    }
}

enum Held<'c> {
    Result(QueryResult<'c>),
    Statement(Statement<'c>),
    Nothing,
}

impl Held<'_> {
    /// Reads the held object, to show it is usable while the other slot's is.
    fn touch(&self) -> u64 {
        match self {
            Held::Result(result) => result.num_rows(),
            Held::Statement(stmt) => stmt.param_count() as u64,
            Held::Nothing => 0,
        }
    }
}

fn hold<'c>(conn: &'c mut Connection, what: &Hold) -> Result<Held<'c>, String> {
    Ok(match what {
        Hold::Result { sql, fetch } => match query(conn, sql)? {
            Some(mut result) => {
                fetch_some(&mut result, *fetch)?;
                Held::Result(result)
            }
            None => Held::Nothing,
        },
        Hold::Statement { age, fetch } => {
            let mut stmt = prepare_select(conn)?;
            stmt.bind(0, &Param::Int(*age)).map_err(|e| e.to_string())?;
            match stmt.execute() {
                Ok(()) => {
                    if let Some(mut result) = stmt.store_result().map_err(|e| e.to_string())? {
                        fetch_some(&mut result, *fetch)?;
                    }
                }
                // The other slot's held result does not block this handle,
                // but a callback can never run here: statements bypass it.
                Err(e) => return Err(e.to_string()),
            }
            Held::Statement(stmt)
        }
    })
}

fn bad_options() -> ConnectOptions {
    ConnectOptions {
        password: "nope".into(),
        ..ConnectOptions::default()
    }
}

fn step(conns: &mut [Option<Connection>; SLOTS], op: &Op) -> Case {
    match op {
        Op::Connect { slot, good: true } => {
            conns[*slot] = Some(Connection::open_default().map_err(|e| e.to_string())?)
        }
        Op::Connect { good: false, .. } => match Connection::connect(&bad_options()) {
            Err(e) if e.code() == Some(code::ACCESS_DENIED) => {}
            other => return Err(format!("bad connect: {:?}", other.err())),
        },
        Op::Close { slot, explicit } => {
            if let Some(conn) = conns[*slot].take()
                && *explicit
            {
                conn.close().map_err(|(_, e)| e.to_string())?;
            }
        }
        Op::Query { slot, sql, fetch } => {
            if let Some(conn) = conns[*slot].as_mut()
                && let Some(mut result) = query(conn, sql)?
            {
                fetch_some(&mut result, *fetch)?;
            }
        }
        Op::Prepared {
            slot,
            binds,
            fetch,
            metadata,
            expanded,
            close,
        } => {
            if let Some(conn) = conns[*slot].as_mut() {
                prepared(conn, binds, *fetch, *metadata, *expanded, *close)?;
            }
        }
        Op::SetCallback { slot, callback } => {
            if let Some(conn) = conns[*slot].as_mut() {
                set_callback(conn, *callback);
            }
        }
        Op::ClearCallback { slot } => {
            if let Some(conn) = conns[*slot].as_mut() {
                conn.clear_row_callback();
            }
        }
        Op::Stat { slot } => {
            if let Some(conn) = conns[*slot].as_mut() {
                conn.stat().map_err(|e| e.to_string())?;
            }
        }
        Op::Escape { slot, input } => {
            if let Some(conn) = conns[*slot].as_ref() {
                std::hint::black_box(conn.escape(input));
            }
        }
        Op::Pair {
            first,
            second,
            drop_first_first,
        } => {
            let [a, b] = conns;
            if let (Some(a), Some(b)) = (a.as_mut(), b.as_mut()) {
                let x = hold(a, first)?;
                let y = hold(b, second)?;
                std::hint::black_box(x.touch() + y.touch());
                if *drop_first_first {
                    drop(x);
                    drop(y);
                } else {
                    drop(y);
                    drop(x);
                }
            }
        }
    }
    Ok(())
}

/// One case; everything it allocates is gone when it returns.
fn run_case(ops: &[Op]) -> Case {
    let mut conns: [Option<Connection>; SLOTS] = [None, None];
    for op in ops {
        step(&mut conns, op)?;
    }
    Ok(())
}

/// A case touching every kind of operation once, unmeasured, so one-time
/// lazy allocations (std's, on a first panic say) happen before any case.
fn warm_up() {
    let ops = vec![
        Op::Connect {
            slot: 0,
            good: true,
        },
        Op::SetCallback {
            slot: 0,
            callback: Callback::PanicAfter(0),
        },
        Op::Query {
            slot: 0,
            sql: Sql::Select {
                cols: 7,
                filter: None,
                limit: None,
            },
            fetch: 1,
        },
        Op::Prepared {
            slot: 0,
            binds: vec![Bind::Good(Param::Int(1))],
            fetch: 1,
            metadata: true,
            expanded: true,
            close: true,
        },
        Op::Stat { slot: 0 },
    ];
    run_case(&ops).expect("the warm-up case runs");
}

#[test]
fn random_safe_api_sequences_leak_nothing() {
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    warm_up();
    let config = Config {
        cases: 256,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let outcome = runner.run(&prop::collection::vec(op(), 1..24), |ops| {
        let before = Snapshot::now_this_thread();
        let result = run_case(&ops);
        let growth = Snapshot::now_this_thread().since(before);
        result.map_err(TestCaseError::fail)?;
        prop_assert!(growth.is_zero(), "the case left {growth:?}");
        Ok(())
    });
    std::panic::set_hook(previous_hook);
    if let Err(e) = outcome {
        panic!("{e}");
    }
}

//! The same operations through the safe binding, and through the pure
//! backend (and both behind the shared `Backend` trait).

use leaklab_lab::connector::pure::PureConnection;
use leaklab_lab::connector::safe::{ConnectOptions, Connection, QueryResult};
use leaklab_lab::connector::{Backend, Outcome};

use super::{GROW, INSERT, fold};

/// Connection::connect + drop (lc_init + lc_real_connect + lc_close).
#[inline(never)]
pub fn measured_connect_safe(o: &ConnectOptions) -> bool {
    Connection::connect(o).is_ok()
}

/// Connection::query of a SELECT, its result dropped (freed) at once.
#[inline(never)]
pub fn measured_query_safe(conn: &mut Connection, sql: &str) -> u32 {
    match conn.query(sql) {
        Ok(Some(result)) => {
            drop(result);
            1
        }
        Ok(None) => 0,
        Err(_) => u32::MAX,
    }
}

/// QueryResult::fetch, then value 0 of the row as bytes.
#[inline(never)]
pub fn measured_fetch_safe(result: &mut QueryResult<'_>) -> usize {
    match result.fetch() {
        Some(row) => row.get_bytes(0).map_or(0, fold),
        None => 0,
    }
}

/// QueryResult::fetch, then every value of the row through `Row::values`.
#[inline(never)]
pub fn measured_fetch_row_safe(result: &mut QueryResult<'_>) -> usize {
    match result.fetch() {
        Some(row) => row.values().fold(1, |acc, v| acc ^ fold(v)),
        None => 0,
    }
}

/// Dropping a QueryResult (lc_free_result).
#[inline(never)]
pub fn measured_free_safe(result: QueryResult<'_>) {
    drop(result);
}

/// The pure backend's connect (credentials checked, table seeded) + drop.
#[inline(never)]
pub fn measured_connect_pure(o: &ConnectOptions) -> bool {
    PureConnection::connect(&o.host, &o.user, &o.password, &o.database).is_ok()
}

/// `Backend::execute` of a SELECT: rows copied into an `Outcome`, dropped.
#[inline(never)]
pub fn measured_execute_c(conn: &mut Connection, sql: &str) -> usize {
    outcome_rows(conn.execute(sql))
}

/// `Backend::execute` on the pure backend: parse, run, rows into an `Outcome`.
#[inline(never)]
pub fn measured_execute_pure(conn: &mut PureConnection, sql: &str) -> usize {
    outcome_rows(conn.execute(sql))
}

fn outcome_rows(outcome: Result<Outcome, leaklab_lab::connector::Error>) -> usize {
    outcome.map_or(usize::MAX, |o| o.rows.len())
}

/// A connection whose table holds [`GROW`] more rows (setup only).
pub fn grown() -> Connection {
    let mut conn = Connection::open_default().expect("connect");
    for _ in 0..GROW {
        assert_eq!(measured_query_safe(&mut conn, INSERT), 0, "insert");
    }
    conn
}

/// A pure connection (setup only).
pub fn pure() -> PureConnection {
    PureConnection::connect("localhost", "lab", "lab", "shop").expect("connect")
}

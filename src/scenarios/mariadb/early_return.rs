//! mariadb-early-return: `?` returns between mysql_store_result and
//! mysql_free_result.

use super::super::code::{Code, Item, MARIADB_LEAKY};
use super::super::{BackendChoice, Expected, Iteration, Origin, Scenario, Variant};
use super::{LIBRARY, connect, connect_leaky, footprint};
use crate::mariadb::Error;
use crate::mariadb::safe::Connection;

pub static SCENARIO: Scenario = Scenario {
    id: "mariadb-early-return",
    title: "Early return skips mysql_free_result (libmariadb)",
    origin: Origin {
        source: "rust-binding",
        reference: "git2: early return via try_call! before git_odb_free; the stand-in's \
                    early-return on MariaDB Connector/C",
    },
    pattern: "a value that does not parse makes `?` return from the fetch loop; the mysql_free_result after the loop never runs",
    fix: "hold the result in an RAII owner: the same `?` then drops it",
    library: LIBRARY,
    leaky,
    safe,
    safe_backend: BackendChoice::C,
    pure_capable: false,
    expected,
    iteration_budget: None,
    source_file: "src/scenarios/mariadb/early_return.rs",
    source: include_str!("early_return.rs"),
    code: Code {
        leaky: &[Item::of(&MARIADB_LEAKY, "    pub fn sum_column(")],
        safe: &[Item::here("fn sum_column(")],
    },
};

/// Summing column 1 (names) as integers fails on the first row, every time.
const QUERY: &str = "SELECT age, name FROM people";
const COLUMN: usize = 1;

fn leaky(_: BackendChoice) -> Result<Iteration, String> {
    let mut conn = connect_leaky()?;
    Ok(Box::new(move || {
        expect_conversion_error(conn.sum_column(QUERY, COLUMN))
    }))
}

fn safe(_: BackendChoice) -> Result<Iteration, String> {
    let mut conn = connect()?;
    Ok(Box::new(move || {
        expect_conversion_error(sum_column(&mut conn, QUERY, COLUMN))
    }))
}

/// The safe twin of `LeakyConnection::sum_column`: the same `?`s, but the
/// result is a `StoredResult`, dropped (and freed) on every return.
fn sum_column(conn: &mut Connection, sql: &str, column: usize) -> Result<i64, Error> {
    let mut result = conn.query(sql)?;
    let mut sum = 0i64;
    while let Some(row) = result.fetch() {
        let value = row.get_str(column)?;
        sum += value.parse::<i64>().map_err(|_| Error::Conversion {
            value: value.to_owned(),
            target: "i64",
        })?;
    }
    Ok(sum)
}

fn expect_conversion_error(outcome: Result<i64, Error>) -> Result<(), String> {
    match outcome {
        Err(Error::Conversion { .. }) => Ok(()),
        other => Err(format!("expected a conversion error, got {other:?}")),
    }
}

fn expected(variant: Variant, _: BackendChoice) -> Expected {
    match variant {
        // The whole stored result, though only its first row was read.
        Variant::Leaky => Expected::c_lost(footprint::stored_result(QUERY)),
        Variant::Safe => Expected::CLEAN,
    }
}

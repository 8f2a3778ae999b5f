//! early-return: `?` returns between the allocation and the free.

use super::code::{CONNECTOR_LEAKY, Code, Item};
use super::{BackendChoice, Expected, Iteration, Origin, Scenario, Variant, footprint, lab_err};
use crate::connector::Error;
use crate::connector::leaky::LeakyConnection;
use crate::connector::safe::{ConnectOptions, Connection};

pub static SCENARIO: Scenario = Scenario {
    id: "early-return",
    title: "Early return with ? between allocation and free",
    origin: Origin {
        source: "rust-binding",
        reference: "git2-rs: try_call! returning before git_odb_free",
    },
    pattern: "a value that does not parse makes `?` return from the fetch loop; the lc_free_result after the loop never runs",
    fix: "hold the result in an RAII owner: the same `?` then drops it",
    library: "connector",
    leaky,
    safe,
    safe_backend: BackendChoice::C,
    pure_capable: false,
    expected,
    iteration_budget: None,
    source_file: "src/scenarios/early_return.rs",
    source: include_str!("early_return.rs"),
    code: Code {
        leaky: &[Item::of(&CONNECTOR_LEAKY, "    pub fn sum_column(")],
        safe: &[Item::here("fn sum_column(")],
    },
};

/// Summing column 1 (names) as integers fails on the first row, every time.
const QUERY: &str = "SELECT age, name FROM people";
const COLUMN: usize = 1;

fn leaky(_: BackendChoice) -> Result<Iteration, String> {
    let mut conn = LeakyConnection::connect(&ConnectOptions::default()).map_err(lab_err)?;
    Ok(Box::new(move || {
        expect_conversion_error(conn.sum_column(QUERY, COLUMN))
    }))
}

fn safe(_: BackendChoice) -> Result<Iteration, String> {
    let mut conn = Connection::open_default().map_err(lab_err)?;
    Ok(Box::new(move || {
        expect_conversion_error(sum_column(&mut conn, QUERY, COLUMN))
    }))
}

/// The safe twin of `LeakyConnection::sum_column`: the same `?`s, but the
/// result is a `QueryResult`, dropped (and freed) on every return.
fn sum_column(conn: &mut Connection, sql: &str, column: usize) -> Result<i64, Error> {
    let mut result = conn.query(sql)?.ok_or(Error::NullReturn {
        function: "lc_store_result",
    })?;
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
        // The whole result, though only its first row was read.
        Variant::Leaky => Expected::c_lost(footprint::result(&footprint::data_of(QUERY))),
        Variant::Safe => Expected::CLEAN,
    }
}

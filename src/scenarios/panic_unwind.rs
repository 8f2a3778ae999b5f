//! panic-unwind: a panic between the allocation and the free.

use std::panic::{AssertUnwindSafe, catch_unwind};

use super::code::{CONNECTOR_LEAKY, Code, Item};
use super::{BackendChoice, Expected, Iteration, Origin, Scenario, Variant, footprint, lab_err};
use crate::connector::leaky::LeakyConnection;
use crate::connector::safe::{ConnectOptions, Connection};

pub static SCENARIO: Scenario = Scenario {
    id: "panic-unwind",
    title: "Panic between allocation and free",
    origin: Origin {
        source: "rust-binding",
        reference: "any binding that frees by hand: unwinding skips the free (Rustonomicon, 'Unwinding')",
    },
    pattern: "`expect` on a value that does not parse unwinds past the lc_free_result",
    fix: "free in Drop: unwinding runs destructors, so the result is freed on the way out",
    library: "connector",
    leaky,
    safe,
    safe_backend: BackendChoice::C,
    pure_capable: false,
    expected,
    iteration_budget: None,
    source_file: "src/scenarios/panic_unwind.rs",
    source: include_str!("panic_unwind.rs"),
    code: Code {
        leaky: &[Item::of(&CONNECTOR_LEAKY, "    pub fn first_as_i64(")],
        safe: &[Item::here("fn first_as_i64(")],
    },
};

/// The first value is a name: parsing it as an integer panics every time.
const QUERY: &str = "SELECT name FROM people";

fn leaky(_: BackendChoice) -> Result<Iteration, String> {
    let mut conn = LeakyConnection::connect(&ConnectOptions::default()).map_err(lab_err)?;
    Ok(Box::new(move || {
        expect_panic(catch_unwind(AssertUnwindSafe(|| conn.first_as_i64(QUERY))))
    }))
}

fn safe(_: BackendChoice) -> Result<Iteration, String> {
    let mut conn = Connection::open_default().map_err(lab_err)?;
    Ok(Box::new(move || {
        expect_panic(catch_unwind(AssertUnwindSafe(|| first_as_i64(&mut conn))))
    }))
}

/// The safe twin of `LeakyConnection::first_as_i64`: the same `expect`, but
/// the unwinding drops the `QueryResult`.
fn first_as_i64(conn: &mut Connection) -> i64 {
    let mut result = conn.query(QUERY).expect("query").expect("a result set");
    let row = result.fetch().expect("a row");
    row.get_str(0)
        .expect("text")
        .parse::<i64>()
        .expect("first value is an integer")
}

/// The workload's check, shared with its libmariadb twin: it must panic.
pub(super) fn expect_panic(outcome: std::thread::Result<i64>) -> Result<(), String> {
    match outcome {
        Err(_) => Ok(()),
        Ok(v) => Err(format!("expected a panic, got {v}")),
    }
}

fn expected(variant: Variant, _: BackendChoice) -> Expected {
    match variant {
        Variant::Leaky => Expected::c_lost(footprint::result(&footprint::data_of(QUERY))),
        Variant::Safe => Expected::CLEAN,
    }
}

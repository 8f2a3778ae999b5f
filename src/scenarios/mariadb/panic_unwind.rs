//! mariadb-panic-unwind: a panic between mysql_store_result and
//! mysql_free_result.

use std::panic::{AssertUnwindSafe, catch_unwind};

use super::super::code::{Code, Item, MARIADB_LEAKY};
use super::super::panic_unwind::expect_panic;
use super::super::{BackendChoice, Expected, Iteration, Origin, Scenario, Variant};
use super::{LIBRARY, connect, connect_leaky, footprint};
use crate::mariadb::safe::Connection;

pub static SCENARIO: Scenario = Scenario {
    id: "mariadb-panic-unwind",
    title: "Panic unwinds past mysql_free_result (libmariadb)",
    origin: Origin {
        source: "rust-binding",
        reference: "Rustonomicon, 'Unwinding': destructors run, hand-placed frees do not; the \
                    stand-in's panic-unwind on MariaDB Connector/C",
    },
    pattern: "`expect` on a value that does not parse unwinds past the mysql_free_result",
    fix: "free in Drop: unwinding runs destructors, so the result is freed on the way out",
    library: LIBRARY,
    leaky,
    safe,
    safe_backend: BackendChoice::C,
    pure_capable: false,
    expected,
    iteration_budget: None,
    source_file: "src/scenarios/mariadb/panic_unwind.rs",
    source: include_str!("panic_unwind.rs"),
    code: Code {
        leaky: &[Item::of(&MARIADB_LEAKY, "    pub fn first_as_i64(")],
        safe: &[Item::here("fn first_as_i64(")],
    },
};

/// The first value is a name: parsing it as an integer panics every time.
const QUERY: &str = "SELECT name FROM people";

fn leaky(_: BackendChoice) -> Result<Iteration, String> {
    let mut conn = connect_leaky()?;
    Ok(Box::new(move || {
        expect_panic(catch_unwind(AssertUnwindSafe(|| conn.first_as_i64(QUERY))))
    }))
}

fn safe(_: BackendChoice) -> Result<Iteration, String> {
    let mut conn = connect()?;
    Ok(Box::new(move || {
        expect_panic(catch_unwind(AssertUnwindSafe(|| first_as_i64(&mut conn))))
    }))
}

/// The safe twin of `LeakyConnection::first_as_i64`: the same `expect`, but
/// the unwinding drops the `StoredResult`.
fn first_as_i64(conn: &mut Connection) -> i64 {
    let mut result = conn.query(QUERY).expect("query");
    let row = result.fetch().expect("a row");
    row.get_str(0)
        .expect("text")
        .parse::<i64>()
        .expect("first value is an integer")
}

fn expected(variant: Variant, _: BackendChoice) -> Expected {
    match variant {
        Variant::Leaky => Expected::c_lost(footprint::stored_result(QUERY)),
        Variant::Safe => Expected::CLEAN,
    }
}

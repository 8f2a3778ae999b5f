//! unfreed-result: a result set that is never freed.

use super::code::{CONNECTOR_LEAKY, CONNECTOR_RESULT, Code, Item};
use super::{BackendChoice, Expected, Iteration, Origin, Scenario, Variant, footprint, lab_err};
use crate::connector::leaky::LeakyConnection;
use crate::connector::safe::ConnectOptions;

pub static SCENARIO: Scenario = Scenario {
    id: "unfreed-result",
    title: "Result set never freed",
    origin: Origin {
        source: "rust-binding",
        reference: "rust-openssl #1475 (a wrapper type with no Drop at all); MySQL C API: \
                    every mysql_store_result needs mysql_free_result",
    },
    pattern: "rows are copied out of the LC_RES and the LC_RES itself is never passed to lc_free_result",
    fix: "own the result in a type whose Drop calls lc_free_result (QueryResult)",
    library: "connector",
    leaky,
    safe,
    safe_backend: BackendChoice::C,
    pure_capable: true,
    expected,
    iteration_budget: None,
    source_file: "src/scenarios/unfreed_result.rs",
    source: include_str!("unfreed_result.rs"),
    code: Code {
        leaky: &[Item::of(&CONNECTOR_LEAKY, "    pub fn query_rows(")],
        safe: &[Item::of(&CONNECTOR_RESULT, "impl Drop for QueryResult")],
    },
};

const QUERY: &str = "SELECT name, age, score FROM people WHERE age > 30";

fn leaky(_: BackendChoice) -> Result<Iteration, String> {
    let mut conn = LeakyConnection::connect(&ConnectOptions::default()).map_err(lab_err)?;
    Ok(Box::new(move || {
        let rows = conn.query_rows(QUERY).map_err(lab_err)?;
        std::hint::black_box(rows);
        Ok(())
    }))
}

fn safe(backend: BackendChoice) -> Result<Iteration, String> {
    let mut db = backend.open().map_err(lab_err)?;
    Ok(Box::new(move || {
        let rows = db.execute(QUERY).map_err(lab_err)?;
        std::hint::black_box(rows);
        Ok(())
    }))
}

fn expected(variant: Variant, _: BackendChoice) -> Expected {
    match variant {
        // The whole LC_RES of QUERY's rows, every iteration.
        Variant::Leaky => Expected::c_lost(footprint::result(&footprint::data_of(QUERY))),
        Variant::Safe => Expected::CLEAN,
    }
}

//! forget-owner: `mem::forget` of an owner.

use super::code::{CONNECTOR_LEAKY, CONNECTOR_RESULT, Code, Item};
use super::{BackendChoice, Expected, Iteration, Origin, Scenario, Variant, footprint, lab_err};
use crate::connector::leaky::LeakyConnection;
use crate::connector::safe::{ConnectOptions, Connection};

pub static SCENARIO: Scenario = Scenario {
    id: "forget-owner",
    title: "mem::forget of an owner",
    origin: Origin {
        source: "rust-binding",
        reference: "rust-openssl #836/#1241 (mem::forget of an object the C side had only copied)",
    },
    pattern: "a result owner with a correct Drop is mem::forget-ten once its raw pointer is handed on, so nothing frees it",
    fix: "let the owner drop; hand C a borrowed pointer (or transfer ownership with into_raw only when C takes it)",
    library: "connector",
    leaky,
    safe,
    safe_backend: BackendChoice::C,
    pure_capable: false,
    expected,
    iteration_budget: None,
    source_file: "src/scenarios/forget_owner.rs",
    source: include_str!("forget_owner.rs"),
    code: Code {
        leaky: &[
            Item::of(&CONNECTOR_LEAKY, "    pub fn count_rows("),
            Item::of(&CONNECTOR_LEAKY, "struct ResultOwner"),
        ],
        safe: &[Item::of(&CONNECTOR_RESULT, "impl Drop for QueryResult")],
    },
};

const QUERY: &str = "SELECT name, score FROM people WHERE name != 'bob'";

fn leaky(_: BackendChoice) -> Result<Iteration, String> {
    let mut conn = LeakyConnection::connect(&ConnectOptions::default()).map_err(lab_err)?;
    Ok(Box::new(move || {
        std::hint::black_box(conn.count_rows(QUERY).map_err(lab_err)?);
        Ok(())
    }))
}

fn safe(_: BackendChoice) -> Result<Iteration, String> {
    let mut conn = Connection::open_default().map_err(lab_err)?;
    Ok(Box::new(move || {
        let result = conn.query(QUERY).map_err(lab_err)?;
        std::hint::black_box(result.map(|r| r.num_rows()));
        Ok(())
    }))
}

fn expected(variant: Variant, _: BackendChoice) -> Expected {
    match variant {
        Variant::Leaky => Expected::c_lost(footprint::result(&footprint::data_of(QUERY))),
        Variant::Safe => Expected::CLEAN,
    }
}

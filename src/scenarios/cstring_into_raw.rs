//! cstring-into-raw: `CString::into_raw` never reclaimed.

use super::code::{CONNECTOR_CONNECTION, CONNECTOR_LEAKY, Code, Item};
use super::{BackendChoice, Expected, Iteration, Origin, Scenario, Variant, footprint, lab_err};
use crate::connector::leaky::LeakyConnection;
use crate::connector::safe::{ConnectOptions, Connection};

pub static SCENARIO: Scenario = Scenario {
    id: "cstring-into-raw",
    title: "CString::into_raw never reclaimed",
    origin: Origin {
        source: "rust-binding",
        reference: "git2-rs: CString::into_raw handed to C and never rebuilt with CString::from_raw",
    },
    pattern: "the query text is turned into a raw pointer for C, which only reads it, and never taken back",
    fix: "keep the CString alive on the Rust side for the call and pass as_ptr()",
    library: "connector",
    leaky,
    safe,
    safe_backend: BackendChoice::C,
    pure_capable: false,
    expected,
    iteration_budget: None,
    source_file: "src/scenarios/cstring_into_raw.rs",
    source: include_str!("cstring_into_raw.rs"),
    code: Code {
        leaky: &[Item::of(&CONNECTOR_LEAKY, "    pub fn query_count(")],
        safe: &[Item::of(&CONNECTOR_CONNECTION, "    pub fn query(")],
    },
};

const QUERY: &str = "SELECT name FROM people WHERE score >= 60.5";

fn leaky(_: BackendChoice) -> Result<Iteration, String> {
    let mut conn = LeakyConnection::connect(&ConnectOptions::default()).map_err(lab_err)?;
    Ok(Box::new(move || {
        std::hint::black_box(conn.query_count(QUERY).map_err(lab_err)?);
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
        // The CString's buffer: the text and its NUL, on the Rust heap.
        Variant::Leaky => Expected::rust_lost(footprint::c_string(QUERY.len())),
        Variant::Safe => Expected::CLEAN,
    }
}

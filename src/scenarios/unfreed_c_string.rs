//! unfreed-c-string: a string the C library allocated, copied and never freed.

use super::code::{CONNECTOR_CONNECTION, CONNECTOR_LEAKY, CONNECTOR_STRING, Code, Item};
use super::{BackendChoice, Expected, Iteration, Origin, Scenario, Variant, footprint, lab_err};
use crate::connector::leaky::LeakyConnection;
use crate::connector::safe::ConnectOptions;

pub static SCENARIO: Scenario = Scenario {
    id: "unfreed-c-string",
    title: "Library-allocated string copied, never released",
    origin: Origin {
        source: "rust-binding",
        reference: "rusqlite #552 (sqlite3_expanded_sql's string never passed to sqlite3_free)",
    },
    pattern: "lc_stat's malloc'd string is copied into a String and the original is never given to lc_free",
    fix: "wrap the pointer in an owner (LcString) whose Drop calls lc_free",
    library: "connector",
    leaky,
    safe,
    safe_backend: BackendChoice::C,
    pure_capable: true,
    expected,
    iteration_budget: None,
    source_file: "src/scenarios/unfreed_c_string.rs",
    source: include_str!("unfreed_c_string.rs"),
    code: Code {
        leaky: &[Item::of(&CONNECTOR_LEAKY, "    pub fn stat(")],
        safe: &[
            Item::of(&CONNECTOR_CONNECTION, "    pub fn stat("),
            Item::of(&CONNECTOR_STRING, "impl Drop for CString"),
        ],
    },
};

fn leaky(_: BackendChoice) -> Result<Iteration, String> {
    let mut conn = LeakyConnection::connect(&ConnectOptions::default()).map_err(lab_err)?;
    Ok(Box::new(move || {
        let status = conn.stat().map_err(lab_err)?;
        std::hint::black_box(status);
        Ok(())
    }))
}

fn safe(backend: BackendChoice) -> Result<Iteration, String> {
    let mut db = backend.open().map_err(lab_err)?;
    Ok(Box::new(move || {
        let status = db.stat().map_err(lab_err)?;
        std::hint::black_box(status);
        Ok(())
    }))
}

fn expected(variant: Variant, _: BackendChoice) -> Expected {
    match variant {
        // One block: the status line of a fresh server and its NUL.
        Variant::Leaky => {
            let line = BackendChoice::Pure
                .open()
                .and_then(|mut db| db.stat())
                .expect("the pure backend reports its status");
            Expected::c_lost(footprint::c_string(line.len()))
        }
        Variant::Safe => Expected::CLEAN,
    }
}

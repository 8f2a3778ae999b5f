//! failed-connect: a failed connect whose handle is never closed.

use super::code::{CONNECTOR_CONNECTION, CONNECTOR_LEAKY, Code, Item};
use super::{BackendChoice, Expected, Iteration, Origin, Scenario, Variant, footprint};
use crate::connector::Error;
use crate::connector::leaky::LeakyConnection;
use crate::connector::safe::{ConnectOptions, Connection};

pub static SCENARIO: Scenario = Scenario {
    id: "failed-connect",
    title: "Failed connect without close",
    origin: Origin {
        source: "rust-binding",
        reference: "mysqlclient PR #350: a failed mysql_real_connect does not free the handle",
    },
    pattern: "when lc_real_connect fails, the handle from lc_init is dropped on the floor instead of closed",
    fix: "own the handle before connecting, so the error path closes it",
    library: "connector",
    leaky,
    safe,
    safe_backend: BackendChoice::C,
    pure_capable: false,
    expected,
    iteration_budget: None,
    source_file: "src/scenarios/failed_connect.rs",
    source: include_str!("failed_connect.rs"),
    code: Code {
        leaky: &[Item::of(&CONNECTOR_LEAKY, "    pub fn connect(")],
        safe: &[Item::of(&CONNECTOR_CONNECTION, "    pub fn connect(")],
    },
};

fn wrong_password() -> ConnectOptions {
    ConnectOptions {
        password: "wrong".into(),
        ..ConnectOptions::default()
    }
}

fn leaky(_: BackendChoice) -> Result<Iteration, String> {
    let options = wrong_password();
    Ok(Box::new(move || {
        expect_access_denied(LeakyConnection::connect(&options).map(drop))
    }))
}

fn safe(_: BackendChoice) -> Result<Iteration, String> {
    let options = wrong_password();
    Ok(Box::new(move || {
        expect_access_denied(Connection::connect(&options).map(drop))
    }))
}

fn expect_access_denied(outcome: Result<(), Error>) -> Result<(), String> {
    match outcome {
        Err(e) if e.code() == Some(crate::connector::types::code::ACCESS_DENIED) => Ok(()),
        other => Err(format!("expected access denied, got {other:?}")),
    }
}

fn expected(variant: Variant, _: BackendChoice) -> Expected {
    match variant {
        // The LC handle: one block of sizeof(LC), nothing else allocated.
        Variant::Leaky => Expected::c_lost(footprint::handle()),
        Variant::Safe => Expected::CLEAN,
    }
}

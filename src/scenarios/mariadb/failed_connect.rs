//! mariadb-failed-connect: a failed mysql_real_connect whose handle is
//! never closed.

use super::super::code::{Code, Item, MARIADB_LEAKY, MARIADB_SAFE};
use super::super::{BackendChoice, Expected, Iteration, Origin, Scenario, Variant};
use super::{LIBRARY, footprint};
use crate::mariadb::leaky::LeakyConnection;
use crate::mariadb::safe::Connection;

pub static SCENARIO: Scenario = Scenario {
    id: "mariadb-failed-connect",
    title: "Failed connect without close (libmariadb)",
    origin: Origin {
        source: "python-leak-3",
        reference: "mysqlclient PR #350: a failed mysql_real_connect does not free the handle; \
                    the stand-in's failed-connect on MariaDB Connector/C",
    },
    pattern: "when mysql_real_connect fails, the handle from mysql_init is dropped on the floor instead of closed",
    fix: "own the handle before connecting, so the error path closes it",
    library: LIBRARY,
    leaky,
    safe,
    safe_backend: BackendChoice::C,
    pure_capable: false,
    expected,
    iteration_budget: None,
    source_file: "src/scenarios/mariadb/failed_connect.rs",
    source: include_str!("failed_connect.rs"),
    code: Code {
        leaky: &[Item::of(&MARIADB_LEAKY, "    pub fn connect(")],
        safe: &[Item::of(&MARIADB_SAFE, "    pub fn connect(")],
    },
};

fn leaky(_: BackendChoice) -> Result<Iteration, String> {
    let absent = footprint::absent_socket();
    Ok(Box::new(move || {
        match LeakyConnection::connect(&absent, None) {
            Err(_) => Ok(()),
            Ok(_) => Err(format!("a server answered at {}", absent.display())),
        }
    }))
}

fn safe(_: BackendChoice) -> Result<Iteration, String> {
    let absent = footprint::absent_socket();
    Ok(Box::new(move || match Connection::connect(&absent, None) {
        Err(_) => Ok(()),
        Ok(_) => Err(format!("a server answered at {}", absent.display())),
    }))
}

fn expected(variant: Variant, _: BackendChoice) -> Expected {
    match variant {
        Variant::Leaky => Expected::c_lost(footprint::failed_handle()),
        Variant::Safe => Expected::CLEAN,
    }
}

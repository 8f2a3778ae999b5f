//! prepared-statement: a statement's metadata result never freed (the
//! shape mysql-connector-python's MySQLPrepStmt_handle_result keeps on its
//! success path; not BUG#37399636, which was a reference-count leak of the
//! statement object: see the origin).

use super::code::{CONNECTOR_LEAKY, CONNECTOR_STATEMENT, Code, Item};
use super::{BackendChoice, Expected, Iteration, Origin, Scenario, Variant, footprint, lab_err};
use crate::connector::leaky::LeakyConnection;
use crate::connector::safe::{ConnectOptions, Connection};

pub static SCENARIO: Scenario = Scenario {
    id: "prepared-statement",
    title: "Prepared statement metadata never freed",
    origin: Origin {
        source: "python-leak-3",
        reference: "mysql-connector-python's C extension (src/mysql_capi.c), prepared statements. \
                    BUG#37399636, fixed in 9.3.0 ('The C-extension has a memory leak when working \
                    with prepared statements'), was a reference-count leak: the fix adds \
                    Py_XDECREF(self) to MySQLPrepStmt_close, the counterpart of the increment in \
                    MySQL_stmt_prepare, so the statement object itself was never freed; this \
                    scenario is not that bug. It reproduces the shape still present after it: the \
                    result metadata from mysql_stmt_result_metadata (with the bind and column \
                    arrays MySQLPrepStmt_handle_result allocates) is not freed on its success path \
                    in 9.3.0 through 9.7.0, as the published sources read (the 9.3.0 sdist's \
                    src/mysql_capi.c was not re-read for this text)",
    },
    pattern: "column names are read from lc_stmt_result_metadata, a caller-owned result never given to lc_free_result",
    fix: "return the metadata as a QueryResult, freed on Drop",
    library: "connector",
    leaky,
    safe,
    safe_backend: BackendChoice::C,
    pure_capable: false,
    expected,
    iteration_budget: None,
    source_file: "src/scenarios/prepared_statement.rs",
    source: include_str!("prepared_statement.rs"),
    code: Code {
        leaky: &[Item::of(&CONNECTOR_LEAKY, "    pub fn prepared_columns(")],
        safe: &[Item::of(&CONNECTOR_STATEMENT, "    pub fn metadata(")],
    },
};

const QUERY: &str = "SELECT name, score FROM people WHERE age > ?";
const COLUMNS: usize = 2;

fn leaky(_: BackendChoice) -> Result<Iteration, String> {
    let mut conn = LeakyConnection::connect(&ConnectOptions::default()).map_err(lab_err)?;
    Ok(Box::new(move || {
        let names = conn.prepared_columns(QUERY).map_err(lab_err)?;
        check_columns(names.len())
    }))
}

fn safe(_: BackendChoice) -> Result<Iteration, String> {
    let mut conn = Connection::open_default().map_err(lab_err)?;
    Ok(Box::new(move || {
        let mut statement = conn.prepare(QUERY).map_err(lab_err)?;
        let names = match statement.metadata().map_err(lab_err)? {
            Some(meta) => meta.fields().map_err(lab_err)?,
            None => Vec::new(),
        };
        check_columns(names.len())
    }))
}

fn check_columns(count: usize) -> Result<(), String> {
    if count == COLUMNS {
        Ok(())
    } else {
        Err(format!("expected {COLUMNS} columns, got {count}"))
    }
}

fn expected(variant: Variant, _: BackendChoice) -> Expected {
    match variant {
        Variant::Leaky => Expected::c_lost(footprint::metadata(COLUMNS)),
        Variant::Safe => Expected::CLEAN,
    }
}

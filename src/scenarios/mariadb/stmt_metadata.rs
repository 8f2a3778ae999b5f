//! mariadb-stmt-metadata: a prepared statement's result metadata never
//! freed (the shape mysql-connector-python's MySQLPrepStmt_handle_result
//! keeps on its success path; see prepared-statement's origin).

use super::super::code::{Code, Item, MARIADB_LEAKY, MARIADB_SAFE};
use super::super::{BackendChoice, Expected, Iteration, Origin, Scenario, Variant, lab_err};
use super::{LIBRARY, connect, connect_leaky, footprint};

pub static SCENARIO: Scenario = Scenario {
    id: "mariadb-stmt-metadata",
    title: "Prepared-statement metadata never freed (libmariadb)",
    origin: Origin {
        source: "python-leak-3",
        reference: "mysql-connector-python's C extension: the result metadata from \
                    mysql_stmt_result_metadata not freed on MySQLPrepStmt_handle_result's success \
                    path (not BUG#37399636, a reference-count leak fixed in 9.3.0); the stand-in's \
                    prepared-statement on MariaDB Connector/C",
    },
    pattern: "column names are read from mysql_stmt_result_metadata, a caller-owned result never given to mysql_free_result",
    fix: "return the metadata as a StoredResult, freed on Drop",
    library: LIBRARY,
    leaky,
    safe,
    safe_backend: BackendChoice::C,
    pure_capable: false,
    expected,
    iteration_budget: None,
    source_file: "src/scenarios/mariadb/stmt_metadata.rs",
    source: include_str!("stmt_metadata.rs"),
    code: Code {
        leaky: &[Item::of(&MARIADB_LEAKY, "    pub fn prepared_columns(")],
        safe: &[
            Item::of(&MARIADB_SAFE, "    pub fn result_metadata("),
            Item::here("fn prepared_columns("),
        ],
    },
};

const QUERY: &str = "SELECT name, age FROM people WHERE age > ?";

fn leaky(_: BackendChoice) -> Result<Iteration, String> {
    let mut conn = connect_leaky()?;
    Ok(Box::new(move || {
        std::hint::black_box(conn.prepared_columns(QUERY).map_err(lab_err)?);
        Ok(())
    }))
}

fn safe(_: BackendChoice) -> Result<Iteration, String> {
    let mut conn = connect()?;
    Ok(Box::new(move || {
        std::hint::black_box(prepared_columns(&mut conn).map_err(lab_err)?);
        Ok(())
    }))
}

/// The safe twin of `LeakyConnection::prepared_columns`: the metadata is a
/// `StoredResult`, freed before the statement closes.
fn prepared_columns(
    conn: &mut crate::mariadb::safe::Connection,
) -> Result<Vec<String>, crate::mariadb::Error> {
    let statement = conn.prepare(QUERY)?;
    let names = statement.result_metadata()?.field_names();
    Ok(names)
}

fn expected(variant: Variant, _: BackendChoice) -> Expected {
    match variant {
        Variant::Leaky => Expected::c_lost(footprint::statement_metadata()),
        Variant::Safe => Expected::CLEAN,
    }
}

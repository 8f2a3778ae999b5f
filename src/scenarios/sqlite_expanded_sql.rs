//! sqlite-expanded-sql: sqlite3_expanded_sql's string never passed to sqlite3_free.

use super::code::{Code, Item, SQLITE_LEAKY, SQLITE_STATEMENT, SQLITE_STRING};
use super::{
    BackendChoice, Expected, Iteration, Origin, Scenario, Variant, lab_err, sqlite_footprint,
};
use crate::sqlite::leaky::LeakyDatabase;
use crate::sqlite::safe::Database;

pub static SCENARIO: Scenario = Scenario {
    id: "sqlite-expanded-sql",
    title: "sqlite3_expanded_sql string never freed",
    origin: Origin {
        source: "rust-binding",
        reference: "rusqlite #552: Statement::expanded_sql leaked the string sqlite3_expanded_sql \
                    returns (the caller must sqlite3_free it)",
    },
    pattern: "the expanded SQL text is copied into a String and the pointer SQLite allocated is dropped without sqlite3_free",
    fix: "wrap the pointer in an owner (SqliteString) whose Drop calls sqlite3_free",
    library: "sqlite",
    leaky,
    safe,
    safe_backend: BackendChoice::C,
    pure_capable: false,
    expected,
    iteration_budget: None,
    source_file: "src/scenarios/sqlite_expanded_sql.rs",
    source: include_str!("sqlite_expanded_sql.rs"),
    code: Code {
        leaky: &[Item::of(&SQLITE_LEAKY, "    pub fn expanded_sql(")],
        safe: &[
            Item::of(&SQLITE_STATEMENT, "    pub fn expanded_sql("),
            Item::of(&SQLITE_STRING, "impl Drop for SqliteString"),
        ],
    },
};

const SCHEMA: &str = "CREATE TABLE people(id INTEGER PRIMARY KEY, name TEXT)";
const SQL: &str = "SELECT name FROM people WHERE id = ?1";
const PARAMS: &[i64] = &[42];

fn leaky(_: BackendChoice) -> Result<Iteration, String> {
    let mut db = LeakyDatabase::open_in_memory().map_err(lab_err)?;
    db.exec(SCHEMA).map_err(lab_err)?;
    Ok(Box::new(move || {
        check_text(db.expanded_sql(SQL, PARAMS).map_err(lab_err)?)
    }))
}

fn safe(_: BackendChoice) -> Result<Iteration, String> {
    let db = Database::open_in_memory().map_err(lab_err)?;
    db.exec(SCHEMA).map_err(lab_err)?;
    Ok(Box::new(move || {
        let mut statement = db.prepare(SQL).map_err(lab_err)?;
        for (index, value) in (1..).zip(PARAMS) {
            statement.bind_int64(index, *value).map_err(lab_err)?;
        }
        check_text(statement.expanded_sql_string().map_err(lab_err)?)
    }))
}

/// The text is the one the size model (sqlite_footprint) is built on.
fn check_text(text: String) -> Result<(), String> {
    let modelled = sqlite_footprint::expanded_text(SQL, PARAMS);
    if text == modelled {
        Ok(())
    } else {
        Err(format!("expanded SQL {text:?}, expected {modelled:?}"))
    }
}

fn expected(variant: Variant, _: BackendChoice) -> Expected {
    match variant {
        // One block: SQLite's string accumulator after appending the text
        // before ?1, then "42" (sqlite_footprint::expanded_sql).
        Variant::Leaky => Expected::c_lost(sqlite_footprint::expanded_sql(SQL, PARAMS)),
        Variant::Safe => Expected::CLEAN,
    }
}

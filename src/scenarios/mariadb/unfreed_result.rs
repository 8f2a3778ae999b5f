//! mariadb-unfreed-result: a result set of the real API never freed.

use super::super::code::{Code, Item, MARIADB_LEAKY, MARIADB_SAFE};
use super::super::{BackendChoice, Expected, Iteration, Origin, Scenario, Variant, lab_err};
use super::{LIBRARY, connect, connect_leaky, footprint};

pub static SCENARIO: Scenario = Scenario {
    id: "mariadb-unfreed-result",
    title: "Result set never freed (libmariadb)",
    origin: Origin {
        source: "python-leak-3",
        reference: "MySQL C API: every mysql_store_result needs mysql_free_result; the stand-in's \
                    unfreed-result on MariaDB Connector/C",
    },
    pattern: "rows are copied out of the MYSQL_RES and the MYSQL_RES itself is never passed to mysql_free_result",
    fix: "own the result in a type whose Drop calls mysql_free_result (StoredResult)",
    library: LIBRARY,
    leaky,
    safe,
    safe_backend: BackendChoice::C,
    pure_capable: false,
    expected,
    iteration_budget: None,
    source_file: "src/scenarios/mariadb/unfreed_result.rs",
    source: include_str!("unfreed_result.rs"),
    code: Code {
        leaky: &[Item::of(&MARIADB_LEAKY, "    pub fn query_rows(")],
        safe: &[Item::of(&MARIADB_SAFE, "impl Drop for StoredResult")],
    },
};

const QUERY: &str = "SELECT name, age, score FROM people WHERE age > 30";

fn leaky(_: BackendChoice) -> Result<Iteration, String> {
    let mut conn = connect_leaky()?;
    Ok(Box::new(move || {
        let rows = conn.query_rows(QUERY).map_err(lab_err)?;
        std::hint::black_box(rows);
        Ok(())
    }))
}

fn safe(_: BackendChoice) -> Result<Iteration, String> {
    let mut conn = connect()?;
    Ok(Box::new(move || {
        let result = conn.query(QUERY).map_err(lab_err)?;
        std::hint::black_box(result.num_rows());
        Ok(())
    }))
}

fn expected(variant: Variant, _: BackendChoice) -> Expected {
    match variant {
        // The whole stored result of QUERY, every iteration (measured).
        Variant::Leaky => Expected::c_lost(footprint::stored_result(QUERY)),
        Variant::Safe => Expected::CLEAN,
    }
}

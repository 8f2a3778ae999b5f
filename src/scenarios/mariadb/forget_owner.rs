//! mariadb-forget-owner: `mem::forget` of a result's owner.

use super::super::code::{Code, Item, MARIADB_LEAKY, MARIADB_SAFE};
use super::super::{BackendChoice, Expected, Iteration, Origin, Scenario, Variant, lab_err};
use super::{LIBRARY, connect, connect_leaky, footprint};

pub static SCENARIO: Scenario = Scenario {
    id: "mariadb-forget-owner",
    title: "mem::forget of a result's owner (libmariadb)",
    origin: Origin {
        source: "rust-binding",
        reference: "rust-openssl PRs #836/#1241 (mem::forget of an object the C side had only \
                    copied); the stand-in's forget-owner on MariaDB Connector/C",
    },
    pattern: "a result owner with a correct Drop is mem::forget-ten once its raw pointer is handed on, so nothing frees it",
    fix: "let the owner drop; hand C a borrowed pointer",
    library: LIBRARY,
    leaky,
    safe,
    safe_backend: BackendChoice::C,
    pure_capable: false,
    expected,
    iteration_budget: None,
    source_file: "src/scenarios/mariadb/forget_owner.rs",
    source: include_str!("forget_owner.rs"),
    code: Code {
        leaky: &[
            Item::of(&MARIADB_LEAKY, "    pub fn count_rows("),
            Item::of(&MARIADB_LEAKY, "struct ResultOwner"),
        ],
        safe: &[Item::of(&MARIADB_SAFE, "impl Drop for StoredResult")],
    },
};

const QUERY: &str = "SELECT name, score FROM people WHERE name != 'bob'";

fn leaky(_: BackendChoice) -> Result<Iteration, String> {
    let mut conn = connect_leaky()?;
    Ok(Box::new(move || {
        std::hint::black_box(conn.count_rows(QUERY).map_err(lab_err)?);
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
        Variant::Leaky => Expected::c_lost(footprint::stored_result(QUERY)),
        Variant::Safe => Expected::CLEAN,
    }
}

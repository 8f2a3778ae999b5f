//! mariadb-escape-buffer: the buffer mysql_real_escape_string writes into,
//! forgotten.

use super::super::code::{Code, Item, MARIADB_LEAKY, MARIADB_SAFE};
use super::super::footprint::block;
use super::super::{BackendChoice, Expected, Iteration, Origin, Scenario, Variant};
use super::{LIBRARY, connect, connect_leaky};

pub static SCENARIO: Scenario = Scenario {
    id: "mariadb-escape-buffer",
    title: "Escape buffer forgotten (libmariadb)",
    origin: Origin {
        source: "python-leak-3",
        reference: "mysql-connector-python BUG#22825962 (escape_string's temporary never \
                    released); the stand-in's escape-buffer on MariaDB Connector/C",
    },
    pattern: "the 2n+1-byte buffer for mysql_real_escape_string is a Vec that is mem::forget-ten after its pointer is taken",
    fix: "keep the Vec, let C write into it, truncate it to the length written",
    library: LIBRARY,
    leaky,
    safe,
    safe_backend: BackendChoice::C,
    pure_capable: false,
    expected,
    iteration_budget: None,
    source_file: "src/scenarios/mariadb/escape_buffer.rs",
    source: include_str!("escape_buffer.rs"),
    code: Code {
        leaky: &[Item::of(&MARIADB_LEAKY, "    pub fn escape(")],
        safe: &[Item::of(&MARIADB_SAFE, "    pub fn escape(")],
    },
};

const INPUT: &str = "O'Brien said \"hi\"\n";

fn leaky(_: BackendChoice) -> Result<Iteration, String> {
    let mut conn = connect_leaky()?;
    Ok(Box::new(move || {
        std::hint::black_box(conn.escape(INPUT));
        Ok(())
    }))
}

fn safe(_: BackendChoice) -> Result<Iteration, String> {
    let conn = connect()?;
    Ok(Box::new(move || {
        std::hint::black_box(conn.escape(INPUT));
        Ok(())
    }))
}

fn expected(variant: Variant, _: BackendChoice) -> Expected {
    match variant {
        // The 2n+1 bytes the API asks the caller to provide, on the Rust
        // heap; libmariadb allocates nothing for it.
        Variant::Leaky => Expected::rust_lost(block(INPUT.len() * 2 + 1)),
        Variant::Safe => Expected::CLEAN,
    }
}

//! escape-buffer: the escape buffer never released.

use super::code::{CONNECTOR_CONNECTION, CONNECTOR_LEAKY, Code, Item};
use super::{BackendChoice, Expected, Iteration, Origin, Scenario, Variant, footprint, lab_err};
use crate::connector::leaky::LeakyConnection;
use crate::connector::safe::ConnectOptions;

pub static SCENARIO: Scenario = Scenario {
    id: "escape-buffer",
    title: "Escape buffer never released",
    origin: Origin {
        source: "python-leak-3",
        reference: "mysql-connector-python BUG#22825962: the C extension's escape_string temporary \
                    was never released",
    },
    pattern: "the 2n+1-byte buffer for lc_real_escape_string is a Vec that is mem::forget-ten after its pointer is taken",
    fix: "keep the Vec, let C write into it, truncate it to the length written",
    library: "connector",
    leaky,
    safe,
    safe_backend: BackendChoice::C,
    pure_capable: true,
    expected,
    iteration_budget: None,
    source_file: "src/scenarios/escape_buffer.rs",
    source: include_str!("escape_buffer.rs"),
    code: Code {
        leaky: &[Item::of(&CONNECTOR_LEAKY, "    pub fn escape(")],
        safe: &[Item::of(&CONNECTOR_CONNECTION, "    pub fn escape(")],
    },
};

const INPUT: &[u8] = b"O'Brien said \"hi\"\n";

fn leaky(_: BackendChoice) -> Result<Iteration, String> {
    let mut conn = LeakyConnection::connect(&ConnectOptions::default()).map_err(lab_err)?;
    Ok(Box::new(move || {
        std::hint::black_box(conn.escape(INPUT));
        Ok(())
    }))
}

fn safe(backend: BackendChoice) -> Result<Iteration, String> {
    let db = backend.open().map_err(lab_err)?;
    Ok(Box::new(move || {
        std::hint::black_box(db.escape(INPUT));
        Ok(())
    }))
}

fn expected(variant: Variant, _: BackendChoice) -> Expected {
    match variant {
        // The 2n+1 bytes the API asks the caller to provide, on the Rust heap.
        Variant::Leaky => Expected::rust_lost(footprint::block(INPUT.len() * 2 + 1)),
        Variant::Safe => Expected::CLEAN,
    }
}

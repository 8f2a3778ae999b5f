//! c-extension-bug: the leak is inside the C library itself.

use super::code::{C_RESULT, Code, Item};
use super::{BackendChoice, Expected, Iteration, Origin, Scenario, Variant, footprint, lab_err};
use crate::connector::Backend;
use crate::connector::safe::Connection;

pub static SCENARIO: Scenario = Scenario {
    id: "c-extension-bug",
    title: "Leak inside the C library (DOUBLE conversion)",
    origin: Origin {
        source: "python-leak-3",
        reference: "mysql-connector-python BUG#29909157 (fixed in 8.0.18): 'A table scan for a float \
                    using the C Extension caused a memory leak'",
    },
    pattern: "the C library formats each DOUBLE value into a temporary buffer and, with the old behaviour, never frees it; no wrapper can reach it",
    fix: "disable the C extension: run the pure-Rust backend (--backend pure), as the original fix was use_pure",
    library: "connector",
    leaky,
    safe,
    safe_backend: BackendChoice::Pure,
    pure_capable: true,
    expected,
    iteration_budget: None,
    source_file: "src/scenarios/c_extension_bug.rs",
    source: include_str!("c_extension_bug.rs"),
    code: Code {
        leaky: &[Item::of(&C_RESULT, "static void drop_buffers(")],
        safe: &[Item::SAFE_WORKLOAD],
    },
};

/// A table scan over a DOUBLE column, as in the original report.
const QUERY: &str = "SELECT name, score FROM people";

/// The C library with the buggy conversion switched on, behind the safe
/// binding: every owner is freed, and it still leaks.
fn buggy_c_extension() -> Result<Box<dyn Backend>, String> {
    let mut conn = Connection::open_default().map_err(lab_err)?;
    conn.set_compat_float_leak(true);
    Ok(Box::new(conn))
}

fn leaky(_: BackendChoice) -> Result<Iteration, String> {
    let mut db = buggy_c_extension()?;
    Ok(Box::new(move || {
        std::hint::black_box(db.execute(QUERY).map_err(lab_err)?);
        Ok(())
    }))
}

fn safe(backend: BackendChoice) -> Result<Iteration, String> {
    let mut db = match backend {
        BackendChoice::C => buggy_c_extension()?,
        BackendChoice::Pure => backend.open().map_err(lab_err)?,
    };
    Ok(Box::new(move || {
        std::hint::black_box(db.execute(QUERY).map_err(lab_err)?);
        Ok(())
    }))
}

fn expected(variant: Variant, backend: BackendChoice) -> Expected {
    match (variant, backend) {
        // One LC_DOUBLE_BUF_SIZE temporary per DOUBLE value scanned.
        (Variant::Leaky, _) | (Variant::Safe, BackendChoice::C) => {
            Expected::c_lost(footprint::float_temporaries(&footprint::data_of(QUERY)))
        }
        (Variant::Safe, BackendChoice::Pure) => Expected::CLEAN,
    }
}

//! statement-refcount: a reference to the statement object taken for the C
//! side at prepare and never given back at close (BUG#37399636's shape).

use std::rc::Rc;

use super::code::{Code, Item};
use super::{BackendChoice, Expected, Iteration, Origin, Scenario, Variant, footprint};

pub static SCENARIO: Scenario = Scenario {
    id: "statement-refcount",
    title: "Statement object's reference never released",
    origin: Origin {
        source: "python-leak-3",
        reference: "mysql-connector-python BUG#37399636, fixed in 9.3.0: MySQL_stmt_prepare takes \
                    a reference to the statement object (Py_INCREF) and MySQLPrepStmt_close never \
                    gave it back; the fix adds Py_XDECREF(self) there, 'counterpart of the \
                    increment taking place at MySQL_stmt_prepare'. The object's count never \
                    reached zero, so it and everything it owned were never freed",
    },
    pattern: "prepare hands the C side a counted reference (Rc::into_raw of a clone) and close drops only the caller's, so the count stays at one and the statement object is never freed",
    fix: "close gives the C side's reference back (Rc::from_raw, dropped) once, as the fix's Py_XDECREF(self)",
    library: "none",
    leaky,
    safe,
    safe_backend: BackendChoice::C,
    pure_capable: false,
    expected,
    iteration_budget: None,
    source_file: "src/scenarios/statement_refcount.rs",
    source: include_str!("statement_refcount.rs"),
    code: Code {
        leaky: &[Item::here("mod leaky {")],
        safe: &[Item::here("mod safe {")],
    },
};

const QUERY: &str = "SELECT name, score FROM people WHERE age > ?";

/// The statement object (the extension's MySQLPrepStmt): what it owns is
/// freed when the last reference goes.
pub struct StatementObject {
    sql: Vec<u8>,
}

/// What the C side holds: the raw pointer of a counted reference, as the
/// extension keeps `self` after its Py_INCREF.
pub struct PreparedStatement {
    object: Rc<StatementObject>,
    for_c: *const StatementObject,
}

fn prepare(sql: &str) -> PreparedStatement {
    let object = Rc::new(StatementObject {
        sql: sql.as_bytes().to_vec(),
    });
    // The reference the C side keeps: the count is now two.
    let for_c = Rc::into_raw(Rc::clone(&object));
    PreparedStatement { object, for_c }
}

/// The mistake: close drops the caller's reference only.
mod leaky {
    pub fn close(statement: super::PreparedStatement) {
        // MISTAKE: `statement.for_c` is never given back; the count stays
        // at one and the object is never freed.
        drop(statement.object);
    }
}

/// The fix: close gives the C side's reference back too.
mod safe {
    pub fn close(statement: super::PreparedStatement) {
        // SAFETY: `for_c` came from `Rc::into_raw` in `prepare`, and is
        // given back exactly once, here.
        drop(unsafe { std::rc::Rc::from_raw(statement.for_c) });
        drop(statement.object);
    }
}

fn leaky(_: BackendChoice) -> Result<Iteration, String> {
    Ok(Box::new(|| {
        let statement = prepare(QUERY);
        std::hint::black_box(statement.object.sql.len());
        leaky::close(statement);
        Ok(())
    }))
}

fn safe(_: BackendChoice) -> Result<Iteration, String> {
    Ok(Box::new(|| {
        let statement = prepare(QUERY);
        std::hint::black_box(statement.object.sql.len());
        safe::close(statement);
        Ok(())
    }))
}

fn expected(variant: Variant, _: BackendChoice) -> Expected {
    match variant {
        // The object's Rc allocation (two counts and the Vec) and the
        // query's bytes, which it owns.
        Variant::Leaky => Expected::rust_lost(footprint::sum(&[
            footprint::rc_box::<StatementObject>(),
            footprint::block(QUERY.len()),
        ])),
        Variant::Safe => Expected::CLEAN,
    }
}

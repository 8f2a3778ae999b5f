//! ffi-cycle: a reference cycle that runs through C.

use std::sync::{Arc, Mutex, Weak};

use super::code::{Code, Item};
use super::{BackendChoice, Expected, Iteration, Origin, Scenario, Variant, footprint, lab_err};
use crate::connector::safe::{CallbackRow, Connection};

pub static SCENARIO: Scenario = Scenario {
    id: "ffi-cycle",
    title: "Reference cycle through C's callback user data",
    origin: Origin {
        source: "python-leak-2",
        reference: "the best-friends cycle again, with C in the loop: a callback registered in C \
                    whose user data owns the object that owns the C handle",
    },
    pattern: "the session owns the connection, the connection's callback (kept for C) holds an Arc of the session: nothing in the loop ever reaches zero, so the C handle is never closed",
    fix: "capture a Weak of the session in the callback and upgrade it per row",
    library: "connector",
    leaky,
    safe,
    safe_backend: BackendChoice::C,
    pure_capable: false,
    expected,
    iteration_budget: None,
    source_file: "src/scenarios/ffi_cycle.rs",
    source: include_str!("ffi_cycle.rs"),
    code: Code {
        leaky: &[Item::LEAKY_WORKLOAD],
        safe: &[Item::SAFE_WORKLOAD],
    },
};

const QUERY: &str = "SELECT name FROM people";

/// Owns the connection and counts the rows its callback sees.
struct Session {
    connection: Option<Connection>,
    rows_seen: u64,
}

type Shared = Arc<Mutex<Session>>;

fn open_session() -> Result<Shared, String> {
    let connection = Connection::open_default().map_err(lab_err)?;
    Ok(Arc::new(Mutex::new(Session {
        connection: Some(connection),
        rows_seen: 0,
    })))
}

/// Registers `callback`, runs the query, and puts the connection back.
fn run_query<F>(session: &Shared, callback: F) -> Result<(), String>
where
    F: FnMut(&CallbackRow<'_>) -> bool + Send + 'static,
{
    let mut conn = session
        .lock()
        .unwrap()
        .connection
        .take()
        .ok_or("no connection")?;
    conn.set_row_callback(callback);
    let rows = conn.query(QUERY).map_err(lab_err)?.map(|r| r.num_rows());
    std::hint::black_box(rows);
    session.lock().unwrap().connection = Some(conn);
    Ok(())
}

fn leaky(_: BackendChoice) -> Result<Iteration, String> {
    Ok(Box::new(|| {
        let session = open_session()?;
        let strong = Arc::clone(&session);
        run_query(&session, move |_row| {
            if let Ok(mut s) = strong.try_lock() {
                s.rows_seen += 1;
            }
            true
        })
    }))
}

fn safe(_: BackendChoice) -> Result<Iteration, String> {
    Ok(Box::new(|| {
        let session = open_session()?;
        let weak: Weak<Mutex<Session>> = Arc::downgrade(&session);
        run_query(&session, move |_row| {
            if let Some(s) = weak.upgrade()
                && let Ok(mut s) = s.try_lock()
            {
                s.rows_seen += 1;
            }
            true
        })
    }))
}

fn expected(variant: Variant, _: BackendChoice) -> Expected {
    match variant {
        Variant::Leaky => Expected {
            // The whole connected handle with its server. Its inner layout is
            // private to the C library, so its size is measured by opening one
            // and running the same query: a footprint, not this leak.
            c: super::SideExpectation::lost(footprint::connection_after(QUERY)),
            // The Arc's allocation, the callback slot Connection keeps for C,
            // and the closure's box (it captures one Arc).
            rust: super::SideExpectation::lost(footprint::sum(&[
                footprint::rc_box::<Mutex<Session>>(),
                footprint::callback_slot(),
                footprint::rust_box::<Shared>(),
            ])),
        },
        Variant::Safe => Expected::CLEAN,
    }
}

//! callback-box: `Box::into_raw` callback user data never reclaimed.

use super::code::{CONNECTOR_CALLBACK, CONNECTOR_CONNECTION, CONNECTOR_LEAKY, Code, Item};
use super::{BackendChoice, Expected, Iteration, Origin, Scenario, Variant, footprint, lab_err};
use crate::connector::leaky::LeakyConnection;
use crate::connector::safe::{CallbackRow, ConnectOptions, Connection};

pub static SCENARIO: Scenario = Scenario {
    id: "callback-box",
    title: "Callback user data never reclaimed on replace",
    origin: Origin {
        source: "rust-binding",
        reference: "rusqlite hooks (Box::into_raw user data freed only on replace); rust-openssl #2102",
    },
    pattern: "each registration boxes the closure into C's void *user_data; replacing or unregistering it never rebuilds the Box to drop it",
    fix: "keep the boxed closure in the connection, drop the old one on replace, unregister and close",
    library: "connector",
    leaky,
    safe,
    safe_backend: BackendChoice::C,
    pure_capable: false,
    expected,
    iteration_budget: None,
    source_file: "src/scenarios/callback_box.rs",
    source: include_str!("callback_box.rs"),
    code: Code {
        leaky: &[
            Item::of(&CONNECTOR_LEAKY, "    pub fn set_row_callback<F>("),
            Item::of(&CONNECTOR_LEAKY, "    pub fn clear_row_callback("),
        ],
        safe: &[
            Item::of(&CONNECTOR_CONNECTION, "    pub fn set_row_callback<F>("),
            Item::of(&CONNECTOR_CONNECTION, "    pub fn clear_row_callback("),
            Item::of(&CONNECTOR_CALLBACK, "impl Drop for SlotOwner"),
        ],
    },
};

const QUERY: &str = "SELECT name, age FROM people";

/// The callback both variants register: counts rows and stops at none.
fn leaky_callback(limit: u64) -> impl FnMut(&[&[u8]]) -> bool + 'static {
    let mut seen = 0u64;
    move |_row| {
        seen += 1;
        seen <= limit
    }
}

fn safe_callback(limit: u64) -> impl FnMut(&CallbackRow<'_>) -> bool + Send + 'static {
    let mut seen = 0u64;
    move |_row| {
        seen += 1;
        seen <= limit
    }
}

fn leaky(_: BackendChoice) -> Result<Iteration, String> {
    let mut conn = LeakyConnection::connect(&ConnectOptions::default()).map_err(lab_err)?;
    Ok(Box::new(move || {
        conn.set_row_callback(leaky_callback(u64::MAX));
        conn.query_with_callback(QUERY).map_err(lab_err)?;
        Ok(())
    }))
}

fn safe(_: BackendChoice) -> Result<Iteration, String> {
    let mut conn = Connection::open_default().map_err(lab_err)?;
    Ok(Box::new(move || {
        conn.set_row_callback(safe_callback(u64::MAX));
        let rows = conn.query(QUERY).map_err(lab_err)?.map(|r| r.num_rows());
        std::hint::black_box(rows);
        Ok(())
    }))
}

fn expected(variant: Variant, _: BackendChoice) -> Expected {
    match variant {
        // Per registration: the outer Box holding the fat `Box<dyn FnMut>`,
        // and the closure's own box (its captured state).
        Variant::Leaky => {
            let outer = footprint::rust_box::<Box<dyn FnMut(&[&[u8]]) -> bool>>();
            let closure = leaky_callback(0);
            let inner = footprint::rust_layout(std::alloc::Layout::for_value(&closure));
            Expected::rust_lost(footprint::sum(&[outer, inner]))
        }
        Variant::Safe => Expected::CLEAN,
    }
}

//! The safe binding and the Rust-only code under Miri, where every C call
//! lands in the Rust model of the connector (src/sys/model): Miri checks the
//! binding's pointer handling and, at exit, that nothing leaked. Run with
//! `cargo +nightly miri test --test miri` (scripts/miri.sh does).
//!
//! The same tests also run natively against the C library (`cargo test`),
//! which checks that the model and the C library agree on every value,
//! message and block count asserted here.
//!
//! A test whose checks read the C counters runs under valgrind memcheck
//! (`cargo leaklab test --detector valgrind`) natively in a child process
//! (`in_child::with_c_counters`): valgrind's malloc replaces the counted one.
//!
//! Every test takes [`serial`]: the allocation counters and the fault
//! injection switch are process-wide, and libtest runs tests in parallel.

mod callbacks;
mod connection;
mod faults;
#[path = "../in_child/mod.rs"]
mod in_child;
mod rust_side;
mod statements;

use std::sync::{Mutex, MutexGuard};

use leaklab::heap::{Live, c};
use leaklab_lab::connector::Error;
use leaklab_lab::connector::safe::Connection;

/// One test at a time (see the module doc).
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn open() -> Connection {
    Connection::open_default().expect("connect with the default options")
}

/// The connector error's code and message, or a panic naming what came.
fn connector_error<T>(result: Result<T, Error>) -> (u32, String) {
    match result {
        Err(Error::Connector { code, message }) => (code, message),
        Err(other) => panic!("expected a connector error, got {other}"),
        Ok(_) => panic!("expected a connector error, got success"),
    }
}

/// This thread's live C blocks and bytes now (the model's counters under
/// Miri): other test threads allocate C memory too (a new thread's TLS).
fn c_live() -> Live {
    c::thread_live()
}

/// Rows as strings, for readable assertions.
fn texts(rows: &[Vec<Vec<u8>>]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|row| {
            row.iter()
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .collect()
        })
        .collect()
}

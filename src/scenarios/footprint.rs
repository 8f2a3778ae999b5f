//! Exact sizes of what a leak keeps, derived from the C library's documented
//! memory layout (csrc/connector/connector.h), the bound struct sizes, and
//! the data a query returns (taken from the pure backend, which returns the
//! very rows the C library does). Expected leaks are computed here, never
//! copied from an observed run.

use std::alloc::Layout;
use std::mem::size_of;
use std::sync::{Mutex, MutexGuard};

use crate::connector::pure::PureConnection;
use crate::connector::{Backend, Outcome};
use crate::heap::Live;
use crate::sys;

/// One C block of `bytes` requested bytes.
pub fn block(bytes: usize) -> Live {
    Live {
        blocks: 1,
        bytes: bytes as i64,
    }
}

pub fn sum(parts: &[Live]) -> Live {
    parts.iter().fold(Live::default(), |acc, p| Live {
        blocks: acc.blocks + p.blocks,
        bytes: acc.bytes + p.bytes,
    })
}

/// `n` times `live`.
pub fn times(live: Live, n: usize) -> Live {
    Live {
        blocks: live.blocks * n as i64,
        bytes: live.bytes * n as i64,
    }
}

/// The rows and fields `sql` returns, from the reference (pure) backend on
/// a fresh server.
pub fn data_of(sql: &str) -> Outcome {
    let mut db = PureConnection::connect("localhost", "lab", "lab", "shop")
        .expect("the pure backend connects with the default credentials");
    db.execute(sql)
        .unwrap_or_else(|e| panic!("reference query {sql:?} failed: {e}"))
}

/// What an `LC_RES` holding `outcome` occupies (the header's layout): the
/// result struct, the field array, the row-pointer array and one block per
/// row of pointers, lengths and NUL-terminated values.
pub fn result(outcome: &Outcome) -> Live {
    let fields = outcome.fields.len();
    let mut parts = vec![
        block(size_of::<sys::LC_RES>()),
        block(fields * size_of::<sys::LC_FIELD>()),
    ];
    if !outcome.rows.is_empty() {
        parts.push(block(outcome.rows.len() * size_of::<sys::LC_ROW>()));
    }
    for row in &outcome.rows {
        let values: usize = row.iter().map(|v| v.len() + 1).sum();
        let header = fields * (size_of::<*mut libc::c_char>() + size_of::<libc::c_ulong>());
        parts.push(block(header + values));
    }
    sum(&parts)
}

/// A metadata-only result (`lc_stmt_result_metadata`) of `fields` columns.
pub fn metadata(fields: usize) -> Live {
    sum(&[
        block(size_of::<sys::LC_RES>()),
        block(fields * size_of::<sys::LC_FIELD>()),
    ])
}

/// A handle from `lc_init`, never connected.
pub fn handle() -> Live {
    block(size_of::<sys::LC>())
}

/// A C string of `len` bytes plus its NUL, in one block.
pub fn c_string(len: usize) -> Live {
    block(len + 1)
}

/// The temporaries BUG#29909157 leaks while `outcome` is stored: one
/// `LC_DOUBLE_BUF_SIZE` block per DOUBLE value.
pub fn float_temporaries(outcome: &Outcome) -> Live {
    let doubles = outcome
        .fields
        .iter()
        .filter(|f| f.field_type == crate::connector::FieldType::Double)
        .count();
    times(
        block(sys::LC_DOUBLE_BUF_SIZE as usize),
        doubles * outcome.rows.len(),
    )
}

/// A Rust heap block holding one `T` (a `Box<T>`), nothing for zero-sized `T`.
pub fn rust_box<T>() -> Live {
    rust_layout(Layout::new::<T>())
}

/// A Rust heap block of `layout`, nothing if it is zero-sized.
pub fn rust_layout(layout: Layout) -> Live {
    if layout.size() == 0 {
        Live::default()
    } else {
        block(layout.size())
    }
}

/// The allocation behind an `Rc<T>` or `Arc<T>`: two counters, then `T`.
pub fn rc_box<T>() -> Live {
    let (layout, _) = Layout::new::<[usize; 2]>()
        .extend(Layout::new::<T>())
        .expect("layout");
    rust_layout(layout.pad_to_align())
}

/// What `Connection` keeps on the Rust heap for a registered callback.
pub fn callback_slot() -> Live {
    rust_box::<crate::connector::safe::CallbackSlot>()
}

/// Held while a footprint is measured on the process-wide C counters, so
/// two measurements (from test threads computing expectations at once)
/// cannot see each other's blocks.
/// Every measured footprint takes it, which is also how [`measured_during`]
/// tells a measured expectation from a derived one.
pub(crate) fn calibrating() -> MutexGuard<'static, ()> {
    static CALIBRATION: Mutex<()> = Mutex::new(());
    MEASUREMENTS.with(|n| n.set(n.get() + 1));
    CALIBRATION.lock().unwrap_or_else(|e| e.into_inner())
}

thread_local! {
    static MEASUREMENTS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// `f()`, and whether it measured a footprint on the way (rather than
/// deriving every size from documented layouts and data): `explain` labels
/// such an expectation as measured.
///
/// ```
/// use leaklab_lab::scenarios::footprint::{block, measured_during};
/// let (live, measured) = measured_during(|| block(64));
/// assert_eq!((live.bytes, measured), (64, false));
/// ```
pub fn measured_during<T>(f: impl FnOnce() -> T) -> (T, bool) {
    let before = MEASUREMENTS.with(|n| n.get());
    let out = f();
    (out, MEASUREMENTS.with(|n| n.get()) != before)
}

/// C memory of one open connection that has run `sql`, measured by opening
/// one (the server's internals are private to the C library). One
/// unmeasured round first takes the process's one-time C allocations (the
/// C library's and glibc's lazy set-up) out of the window, and the count is
/// this thread's, so other threads' C allocations do not show up in it.
pub fn connection_after(sql: &str) -> Live {
    let _turn = calibrating();
    connection_round(sql);
    connection_round(sql)
}

fn connection_round(sql: &str) -> Live {
    let before = crate::heap::c::thread_live();
    let mut conn = crate::connector::safe::Connection::open_default()
        .expect("a connection with the default credentials");
    conn.execute(sql)
        .unwrap_or_else(|e| panic!("reference query {sql:?} failed: {e}"));
    let live = crate::heap::c::thread_live().since(before);
    drop(conn);
    live
}

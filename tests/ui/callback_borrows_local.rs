// The row callback outlives any borrow (C keeps it): it must be 'static.
use leaklab_lab::connector::safe::{CallbackRow, Connection};

fn main() {
    let mut conn = Connection::open_default().unwrap();
    let mut seen = 0u64;
    let counter = &mut seen;
    conn.set_row_callback(move |_row: &CallbackRow<'_>| {
        *counter += 1;
        true
    });
}

//! The row callback: a boxed closure behind C's `user_data`, called from
//! inside `lc_store_result`, stopping it, and panicking inside it.

use std::sync::{Arc, Mutex};

use leaklab_lab::connector::Error;

use super::{c_live, connector_error, open, serial};

#[test]
fn the_callback_sees_every_row_in_order() {
    let _serial = serial();
    let mut conn = open();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    conn.set_row_callback(move |row| {
        let name = String::from_utf8_lossy(row.get(0).unwrap_or_default()).into_owned();
        let age = String::from_utf8_lossy(row.get(1).unwrap_or_default()).into_owned();
        assert!(row.get(2).is_none());
        sink.lock().expect("sink").push(format!("{name}:{age}"));
        true
    });
    let result = conn
        .query("SELECT name, age FROM people WHERE age < 35")
        .expect("query");
    assert_eq!(result.map(|r| r.num_rows()), Some(3));
    assert_eq!(
        *seen.lock().expect("seen"),
        ["alice:34", "bob:27", "dave:19"]
    );
    conn.clear_row_callback();
    conn.query("SELECT name FROM people").expect("query");
    assert_eq!(
        seen.lock().expect("seen").len(),
        3,
        "cleared callbacks are not called"
    );
}

#[test]
fn returning_false_interrupts_the_query_without_a_leak() {
    let _serial = serial();
    let mut conn = open();
    let before = c_live();
    let mut calls = 0;
    conn.set_row_callback(move |_| {
        calls += 1;
        calls < 2
    });
    assert_eq!(
        connector_error(conn.query("SELECT * FROM people").map(|r| r.is_some())),
        (1317, "Query execution was interrupted".into())
    );
    conn.clear_row_callback();
    assert_eq!(c_live(), before, "the half-built result was freed");
    assert!(
        conn.query("SELECT * FROM people")
            .expect("usable again")
            .is_some()
    );
}

#[test]
fn a_panicking_callback_comes_back_as_an_error() {
    let _serial = serial();
    let mut conn = open();
    let before = c_live();
    conn.set_row_callback(|row| {
        if row.get(0) == Some(&b"bob"[..]) {
            panic!("boom at bob");
        }
        true
    });
    match conn.query("SELECT name FROM people").map(|r| r.is_some()) {
        Err(Error::CallbackPanicked { message }) => assert_eq!(message, "boom at bob"),
        other => panic!("expected CallbackPanicked, got {other:?}"),
    }
    assert_eq!(c_live(), before);
    // Replacing the callback drops the old closure; the handle still works.
    conn.set_row_callback(|_| true);
    let mut result = conn
        .query("SELECT name FROM people LIMIT 1")
        .expect("query")
        .expect("rows");
    assert_eq!(result.fetch().expect("row").get_str(0), Ok("alice"));
}

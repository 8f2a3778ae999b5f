//! The safe binding over the C library: error paths come back as typed
//! errors carrying the C code and message, and nothing is left live on
//! either heap. The counters are process-wide, so the tests of this file
//! take turns, and count the Rust heap of their own thread only.

use std::sync::Mutex;

use leaklab::heap::Snapshot;
use leaklab_lab::connector::safe::{ConnectOptions, Connection};
use leaklab_lab::connector::types::code;
use leaklab_lab::connector::{Error, FieldType, Param};

mod in_child;

static SERIAL: Mutex<()> = Mutex::new(());

/// Runs `body` and asserts both heaps are back where they started.
fn leak_checked(body: impl FnOnce()) {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let before = Snapshot::now_this_thread();
    body();
    let leaked = Snapshot::now_this_thread().since(before);
    assert!(leaked.is_zero(), "leaked {leaked:?}");
}

fn connector_code(result: Result<impl std::fmt::Debug, Error>) -> (u32, String) {
    match result {
        Err(Error::Connector { code, message }) => (code, message),
        other => panic!("expected a connector error, got {other:?}"),
    }
}

#[test]
fn failed_connect_reports_access_denied_and_closes_the_handle() {
    leak_checked(|| {
        let options = ConnectOptions {
            user: "mallory".into(),
            ..ConnectOptions::default()
        };
        let (code, message) = connector_code(Connection::connect(&options));
        assert_eq!(code, code::ACCESS_DENIED);
        assert_eq!(message, "Access denied for user 'mallory'");
    });
}

#[test]
fn unknown_database_is_its_own_error() {
    leak_checked(|| {
        let options = ConnectOptions {
            database: "nope".into(),
            ..ConnectOptions::default()
        };
        let (code, message) = connector_code(Connection::connect(&options));
        assert_eq!(code, code::BAD_DB);
        assert_eq!(message, "Unknown database 'nope'");
    });
}

#[test]
fn bad_queries_give_codes_and_messages() {
    leak_checked(|| {
        let mut conn = Connection::open_default().unwrap();
        let (c, m) = connector_code(conn.query("SELEKT * FROM people"));
        assert_eq!(
            (c, m.as_str()),
            (
                code::PARSE,
                "You have an error in your SQL syntax at offset 0"
            )
        );
        let (c, m) = connector_code(conn.query("SELECT * FROM users"));
        assert_eq!(
            (c, m.as_str()),
            (code::NO_SUCH_TABLE, "Table 'shop.users' doesn't exist")
        );
        let (c, m) = connector_code(conn.query("SELECT height FROM people"));
        assert_eq!(
            (c, m.as_str()),
            (code::BAD_FIELD, "Unknown column 'height'")
        );
        let (c, _) = connector_code(conn.query("INSERT INTO people VALUES ('x', 'old', 1.0)"));
        assert_eq!(c, code::WRONG_VALUE);
        let (c, _) = connector_code(conn.query("   "));
        assert_eq!(c, code::EMPTY_QUERY);
        // The connection is still usable after every error.
        let rows = conn
            .query("SELECT name FROM people LIMIT 2")
            .unwrap()
            .unwrap()
            .num_rows();
        assert_eq!(rows, 2);
    });
}

#[test]
fn fetch_after_the_end_keeps_returning_none() {
    leak_checked(|| {
        let mut conn = Connection::open_default().unwrap();
        let mut result = conn
            .query("SELECT name FROM people WHERE age > 40")
            .unwrap()
            .unwrap();
        assert_eq!(result.fetch().unwrap().get_str(0).unwrap(), "carol");
        for _ in 0..3 {
            assert!(result.fetch().is_none());
        }
    });
}

#[test]
fn rows_fields_and_types_come_through() {
    leak_checked(|| {
        let mut conn = Connection::open_default().unwrap();
        let mut result = conn
            .query("SELECT name, age, score FROM people")
            .unwrap()
            .unwrap();
        assert_eq!(result.num_rows(), leaklab_lab::sys::LC_SEED_ROWS as u64);
        let types: Vec<FieldType> = result
            .fields()
            .unwrap()
            .iter()
            .map(|f| f.field_type)
            .collect();
        assert_eq!(types, [FieldType::Text, FieldType::Int, FieldType::Double]);
        let row = result.fetch().unwrap();
        assert_eq!(row.get_str(0).unwrap(), "alice");
        assert_eq!(row.get_str(1).unwrap(), "34");
        assert_eq!(row.get_str(2).unwrap(), "81.50");
        assert_eq!(
            row.get_bytes(3),
            Err(Error::ColumnOutOfRange { index: 3, count: 3 })
        );
        assert!(result.field(9).is_err());
    });
}

#[test]
fn interior_nul_and_oversized_queries_are_refused_before_c() {
    leak_checked(|| {
        let mut conn = Connection::open_default().unwrap();
        assert_eq!(
            conn.query("SELECT name\0 FROM people").err(),
            Some(Error::InteriorNul { position: 11 })
        );
        let long = format!(
            "SELECT name FROM people WHERE name = '{}'",
            "x".repeat(70_000)
        );
        assert!(matches!(conn.query(&long), Err(Error::QueryTooLong { .. })));
    });
}

#[test]
fn invalid_utf8_from_c_is_a_typed_error_with_a_lossy_accessor() {
    leak_checked(|| {
        let mut conn = Connection::open_default().unwrap();
        let mut insert = conn.prepare("INSERT INTO people VALUES (?, ?, ?)").unwrap();
        insert
            .bind_all(&[
                Param::Text(vec![b'b', 0xff, b'd']),
                Param::Int(50),
                Param::Double(1.5),
            ])
            .unwrap();
        insert.execute().unwrap();
        drop(insert);
        let mut result = conn
            .query("SELECT name FROM people WHERE age = 50")
            .unwrap()
            .unwrap();
        let row = result.fetch().unwrap();
        assert_eq!(row.get_str(0), Err(Error::InvalidUtf8 { valid_up_to: 1 }));
        assert_eq!(row.get_lossy(0).unwrap(), "b\u{fffd}d");
        assert_eq!(row.get_bytes(0).unwrap(), b"b\xffd");
    });
}

#[test]
fn prepared_statement_errors() {
    leak_checked(|| {
        let mut conn = Connection::open_default().unwrap();
        let mut stmt = conn
            .prepare("SELECT name FROM people WHERE age > ?")
            .unwrap();
        assert_eq!(stmt.param_count(), 1);
        let (c, _) = connector_code(stmt.execute());
        assert_eq!(c, code::PARAMS_NOT_BOUND);
        let (c, _) = connector_code(stmt.bind(1, &Param::Int(3)));
        assert_eq!(c, code::INVALID_PARAMETER_NO);
        stmt.bind(0, &Param::Int(30)).unwrap();
        assert_eq!(
            stmt.expanded_sql().unwrap(),
            "SELECT name FROM people WHERE age > 30"
        );
        stmt.execute().unwrap();
        let names: Vec<Vec<u8>> = stmt
            .store_result()
            .unwrap()
            .unwrap()
            .collect()
            .unwrap()
            .rows
            .into_iter()
            .map(|mut r| r.remove(0))
            .collect();
        assert_eq!(
            names,
            [b"alice".to_vec(), b"carol".to_vec(), b"eve".to_vec()]
        );
        stmt.close().unwrap();
    });
}

#[test]
fn a_panicking_callback_becomes_an_error_and_nothing_leaks() {
    leak_checked(|| {
        let mut conn = Connection::open_default().unwrap();
        conn.set_row_callback(|row| {
            if row.get(0) == Some(b"carol".as_slice()) {
                panic!("no carols");
            }
            true
        });
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let outcome = conn
            .query("SELECT name FROM people")
            .map(|r| r.map(|r| r.num_rows()));
        std::panic::set_hook(hook);
        assert_eq!(
            outcome,
            Err(Error::CallbackPanicked {
                message: "no carols".into()
            })
        );
        // The connection is usable afterwards, and the callback can go.
        conn.clear_row_callback();
        assert_eq!(
            conn.query("SELECT name FROM people")
                .unwrap()
                .unwrap()
                .num_rows(),
            5
        );
    });
}

#[test]
fn a_callback_returning_false_interrupts_the_query() {
    leak_checked(|| {
        let mut conn = Connection::open_default().unwrap();
        let mut seen = 0;
        conn.set_row_callback(move |_| {
            seen += 1;
            seen < 2
        });
        let (c, _) = connector_code(conn.query("SELECT name FROM people").map(|r| r.is_some()));
        assert_eq!(c, code::QUERY_INTERRUPTED);
    });
}

/// The statement forgotten here leaks on purpose, so the test runs in a
/// child process (tests/in_child) and checks that the leak was the
/// child's: this process, under memcheck too, leaks nothing.
#[test]
fn close_reports_busy_and_hands_the_connection_back() {
    let leaked =
        in_child::leaked_in_child("close_reports_busy_and_hands_the_connection_back", || {
            let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
            let mut conn = Connection::open_default().unwrap();
            // A statement leaked with mem::forget (safe Rust) keeps the handle busy.
            std::mem::forget(conn.prepare("SELECT name FROM people").unwrap());
            let (conn, error) = conn.close().expect_err("close refuses");
            assert_eq!(error.code(), Some(code::BUSY));
            assert_eq!(
                error,
                Error::Connector {
                    code: code::BUSY,
                    message: "Connection has 1 open statements".into()
                }
            );
            // Still open and working: the error did not swallow it.
            let mut conn = conn;
            assert!(conn.query("SELECT name FROM people").unwrap().is_some());
        });
    // The forgotten statement's C side, and the connection it pins.
    assert!(leaked.c.blocks > 0 && leaked.c.bytes > 0, "{leaked:?}");
}

#[test]
fn stat_and_escape() {
    leak_checked(|| {
        let mut conn = Connection::open_default().unwrap();
        assert_eq!(conn.stat().unwrap(), "Queries: 0  Rows: 5");
        conn.query("DELETE FROM people WHERE age < 30").unwrap();
        assert_eq!(conn.affected_rows(), 2);
        assert_eq!(conn.stat().unwrap(), "Queries: 1  Rows: 3");
        assert_eq!(
            conn.escape(b"it's\n\"x\"\\"),
            b"it\\'s\\n\\\"x\\\"\\\\".to_vec()
        );
    });
}

#[test]
fn a_thousand_safe_iterations_leave_nothing() {
    leak_checked(|| {
        let mut conn = Connection::open_default().unwrap();
        for i in 0..1000 {
            let mut result = conn
                .query("SELECT name, score FROM people")
                .unwrap()
                .unwrap();
            while let Some(row) = result.fetch() {
                std::hint::black_box(row.get_bytes(1).unwrap());
            }
            drop(result);
            let _ = conn.stat().unwrap();
            conn.set_row_callback(move |_| i >= 0);
            assert!(conn.query("SELEKT").is_err());
        }
        conn.close().map_err(|(_, e)| e).unwrap();
    });
}

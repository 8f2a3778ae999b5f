//! The safe SQLite binding (src/sqlite/safe.rs) over the bundled SQLite
//! (libsqlite3-sys): error paths come back as typed errors carrying SQLite's code
//! and message, a refused close hands the database back, and nothing is
//! left live on either heap. The C counters are process-wide, so the tests
//! of this file take turns, and count the Rust heap of their own thread.

use std::sync::{Mutex, MutexGuard};

use leaklab::heap::{Snapshot, c};
use leaklab_lab::sqlite::Error;
use leaklab_lab::sqlite::safe::{Database, Step};
use leaklab_lab::sys::sqlite as sys;

mod in_child;

fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `body` and asserts both heaps are back where they started.
fn leak_checked(body: impl FnOnce()) {
    let _turn = serial();
    // SQLite's one-time initialisation is not the body's.
    drop(Database::open_in_memory().expect("an in-memory database"));
    let before = Snapshot::now_this_thread();
    body();
    let leaked = Snapshot::now_this_thread().since(before);
    assert!(leaked.is_zero(), "leaked {leaked:?}");
}

fn sqlite_error<T>(result: Result<T, Error>) -> (i32, String) {
    match result {
        Err(Error::Sqlite { code, message }) => (code, message),
        Err(other) => panic!("expected an SQLite error, got {other}"),
        Ok(_) => panic!("expected an SQLite error, got success"),
    }
}

fn memory() -> Database {
    Database::open_in_memory().expect("an in-memory database")
}

#[test]
fn exec_errors_carry_the_message_exec_allocated_and_free_it() {
    leak_checked(|| {
        let db = memory();
        assert_eq!(
            sqlite_error(db.exec("SELECT * FROM missing")),
            (sys::SQLITE_ERROR as i32, "no such table: missing".into())
        );
        assert_eq!(
            sqlite_error(db.exec("SELEKT 1")),
            (
                sys::SQLITE_ERROR as i32,
                "near \"SELEKT\": syntax error".into()
            )
        );
        db.exec("CREATE TABLE t(x); INSERT INTO t VALUES (1)")
            .expect("valid statements run");
    });
}

#[test]
fn prepare_rejects_bad_sql_empty_text_and_interior_nul() {
    leak_checked(|| {
        let db = memory();
        assert_eq!(
            sqlite_error(db.prepare("SELECT nope FROM missing")),
            (sys::SQLITE_ERROR as i32, "no such table: missing".into())
        );
        assert_eq!(
            db.prepare("  -- nothing").err(),
            Some(Error::EmptyStatement)
        );
        assert_eq!(
            db.prepare("SELECT 1\0").err(),
            Some(Error::InteriorNul { position: 8 })
        );
    });
}

#[test]
fn steps_bind_and_read_columns() {
    leak_checked(|| {
        let db = memory();
        db.exec("CREATE TABLE people(id INTEGER PRIMARY KEY, name TEXT)")
            .unwrap();
        db.exec("INSERT INTO people VALUES (1, 'Alice'), (2, NULL)")
            .unwrap();
        let mut statement = db
            .prepare("SELECT id, name FROM people WHERE id >= ?1 ORDER BY id")
            .unwrap();
        assert_eq!(statement.column_count(), 2);
        statement.bind_int64(1, 1).unwrap();
        let mut rows = Vec::new();
        while statement.step().unwrap() == Step::Row {
            rows.push((statement.column_int64(0), statement.column_text(1)));
        }
        assert_eq!(rows, [(1, Some("Alice".to_owned())), (2, None)]);
        assert_eq!(
            sqlite_error(statement.bind_int64(1, 0)),
            (
                sys::SQLITE_MISUSE as i32,
                "bad parameter or other API misuse".into()
            ),
            "a finished statement binds only after a reset"
        );
        let mut fresh = db.prepare("SELECT ?1").unwrap();
        assert_eq!(
            sqlite_error(fresh.bind_int64(2, 0)),
            (sys::SQLITE_RANGE as i32, "column index out of range".into())
        );
    });
}

#[test]
fn a_failing_step_reports_the_constraint() {
    leak_checked(|| {
        let db = memory();
        db.exec("CREATE TABLE t(id INTEGER PRIMARY KEY)").unwrap();
        db.exec("INSERT INTO t VALUES (7)").unwrap();
        let mut insert = db.prepare("INSERT INTO t VALUES (?1)").unwrap();
        insert.bind_int64(1, 7).unwrap();
        let (code, message) = sqlite_error(insert.step());
        assert_eq!(code & 0xff, 19, "SQLITE_CONSTRAINT, got {code}");
        assert_eq!(message, "UNIQUE constraint failed: t.id");
    });
}

#[test]
fn expanded_sql_writes_the_parameters_in_and_is_freed() {
    leak_checked(|| {
        let db = memory();
        let mut statement = db.prepare("SELECT ?1 + ?2").unwrap();
        statement.bind_int64(1, 40).unwrap();
        statement.bind_int64(2, -2).unwrap();
        assert_eq!(statement.expanded_sql_string().unwrap(), "SELECT 40 + -2");
        let held = statement.expanded_sql().unwrap();
        assert_eq!(held.as_c_str().to_str(), Ok("SELECT 40 + -2"));
    });
}

#[test]
fn a_failed_open_closes_the_handle_sqlite_hands_out() {
    leak_checked(|| {
        let (code, message) = sqlite_error(Database::open("/nonexistent-leaklab-dir/x.db"));
        assert_eq!(code, sys::SQLITE_CANTOPEN as i32);
        assert_eq!(message, "unable to open database file");
    });
}

#[test]
fn close_and_drop_release_the_connection() {
    leak_checked(|| {
        let db = memory();
        db.exec("CREATE TABLE t(x)").unwrap();
        db.close().map_err(|(_, e)| e).expect("nothing is open");
        drop(memory());
    });
}

/// The one way to leave a statement unfinalized in safe Rust is to forget
/// it: close is then refused, and the database comes back, still usable.
/// The forgotten statement (and so the connection) is leaked on purpose,
/// in a child process (tests/in_child): this process leaks nothing.
#[test]
fn a_busy_close_hands_the_database_back() {
    let leaked = in_child::leaked_in_child("a_busy_close_hands_the_database_back", || {
        let _turn = serial();
        let db = memory();
        let statement = db.prepare("SELECT 1").unwrap();
        std::mem::forget(statement);
        let (db, error) = db.close().expect_err("a statement is still unfinalized");
        assert_eq!(
            error,
            Error::Sqlite {
                code: sys::SQLITE_BUSY as i32,
                message: "unable to close due to unfinalized statements or unfinished backups"
                    .into(),
            }
        );
        db.exec("CREATE TABLE still_open(x)")
            .expect("the database handed back is still open");
    });
    // SQLite's statement and connection, on the C side.
    assert!(leaked.c.blocks > 0 && leaked.c.bytes > 0, "{leaked:?}");
}

/// Every SQLite allocation reaches the C allocator interposer, so fault injection
/// reaches it: failing each allocation of a small workload in turn, the
/// safe binding returns an error (or SQLite recovers) and leaks nothing.
#[test]
fn injected_allocation_failures_leak_nothing() {
    in_child::with_c_counters("injected_allocation_failures_leak_nothing", || {
        fn workload() -> Result<String, Error> {
            let db = Database::open_in_memory()?;
            db.exec("CREATE TABLE t(x)")?;
            let _ = db.exec("SELECT * FROM missing");
            let mut statement = db.prepare("SELECT ?1")?;
            statement.bind_int64(1, 5)?;
            statement.step()?;
            statement.expanded_sql_string()
        }
        let mut failures = 0;
        for nth in 1.. {
            let mut fired = false;
            leak_checked(|| {
                c::fail_nth(nth, false);
                let outcome = workload();
                fired = c::fail_pending() == 0;
                c::stop_failing();
                if !fired {
                    assert_eq!(outcome, Ok("SELECT 5".to_owned()));
                }
            });
            if !fired {
                break;
            }
            failures += 1;
        }
        assert!(failures > 10, "only {failures} allocations to fail");
    });
}

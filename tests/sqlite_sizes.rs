//! The size rules the sqlite scenarios derive their expected leaks from
//! (src/scenarios/sqlite_footprint.rs) hold against the bundled SQLite
//! (libsqlite3-sys) on inputs other than the scenarios' own: each block is
//! measured while it is alive, from the C counters. The counters are
//! process-wide, so the tests of this file take turns. Under valgrind,
//! whose malloc replaces the counted one, each test runs natively in a
//! child process (tests/in_child).

use std::sync::{Mutex, MutexGuard};

use leaklab::heap::c;
use leaklab_lab::scenarios::sqlite_footprint as model;
use leaklab_lab::sqlite::Error;
use leaklab_lab::sqlite::leaky::LeakyDatabase;
use leaklab_lab::sqlite::safe::Database;

mod in_child;

fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn expanded_sql_blocks_follow_the_accumulator_model() {
    in_child::with_c_counters("expanded_sql_blocks_follow_the_accumulator_model", || {
        let _turn = serial();
        let db = Database::open_in_memory().unwrap();
        let cases: &[(&str, &[i64])] = &[
            ("SELECT 1", &[]),
            ("SELECT ?1", &[7]),
            ("SELECT ?1", &[-1234567890123]),
            ("SELECT ?1 AS answer", &[123456789]),
            ("SELECT ?1, ?2 + 1", &[42, 7]),
            ("SELECT ?2 - ?1 AS difference, ?1 AS first", &[1, 100000]),
        ];
        for (sql, params) in cases {
            let mut statement = db.prepare(sql).unwrap();
            for (index, value) in (1..).zip(*params) {
                statement.bind_int64(index, *value).unwrap();
            }
            let before = c::thread_live();
            let text = statement.expanded_sql().unwrap();
            let block = c::thread_live().since(before);
            assert_eq!(
                text.to_string_lossy(),
                model::expanded_text(sql, params),
                "{sql}"
            );
            assert_eq!(block, model::expanded_sql(sql, params), "{sql} {params:?}");
        }
    });
}

#[test]
fn an_exec_message_is_one_block_of_its_length_plus_one() {
    in_child::with_c_counters(
        "an_exec_message_is_one_block_of_its_length_plus_one",
        || {
            let _turn = serial();
            let mut db = LeakyDatabase::open_in_memory().unwrap();
            for sql in [
                "SELECT * FROM t",
                "SELEKT 1",
                "SELECT * FROM a_table_with_a_much_longer_name_than_the_others",
            ] {
                // The first failure also sets up the connection's error state.
                let _ = db.exec(sql);
                let before = c::thread_live();
                // The leaky exec leaves the message allocated: it is what we weigh.
                let Err(Error::Sqlite { message, .. }) = db.exec(sql) else {
                    panic!("{sql} fails");
                };
                assert_eq!(
                    c::thread_live().since(before),
                    model::exec_message(&message),
                    "{sql}"
                );
            }
        },
    );
}

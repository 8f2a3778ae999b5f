//! Fault injection: every allocation the connector makes may fail, and the
//! safe binding must turn each failure into an error without leaking.

use leaklab::heap::c;
use leaklab_lab::connector::safe::Connection;

use super::{c_live, connector_error, open, serial};

const OOM: (u32, &str) = (2008, "Client ran out of memory");

/// Arms the `nth` failure for the duration of `run`, then disarms it.
fn failing<T>(nth: u64, run: impl FnOnce() -> T) -> T {
    c::fail_nth(nth, false);
    let out = run();
    c::stop_failing();
    out
}

#[test]
fn connect_survives_a_failed_handle_or_server() {
    crate::in_child::with_c_counters("faults::connect_survives_a_failed_handle_or_server", || {
        let _serial = serial();
        let before = c_live();
        // 1: lc_init's handle; 2: the server lc_real_connect creates.
        for nth in [1, 2] {
            let (code, message) = connector_error(failing(nth, Connection::open_default));
            assert_eq!((code, message.as_str()), OOM, "allocation {nth}");
            assert_eq!(c_live(), before, "allocation {nth}");
        }
    });
}

#[test]
fn stat_reports_out_of_memory() {
    crate::in_child::with_c_counters("faults::stat_reports_out_of_memory", || {
        let _serial = serial();
        let mut conn = open();
        let (code, message) = connector_error(failing(1, || conn.stat()));
        assert_eq!((code, message.as_str()), OOM);
        assert_eq!(c::fail_pending(), 0);
        assert_eq!(conn.stat().expect("stat"), "Queries: 0  Rows: 5");
    });
}

#[test]
fn every_failure_while_building_a_result_is_an_error_without_a_leak() {
    crate::in_child::with_c_counters(
        "faults::every_failure_while_building_a_result_is_an_error_without_a_leak",
        || {
            let _serial = serial();
            let mut conn = open();
            let before = c_live();
            let mut nth = 1;
            let rows = loop {
                assert!(nth < 16, "the query never succeeded");
                let outcome = failing(nth, || {
                    conn.query("SELECT name, score FROM people LIMIT 1")
                        .map(|r| r.map(|mut r| r.collect()))
                });
                match outcome {
                    Ok(rows) => break rows,
                    Err(e) => {
                        let code = e.code();
                        assert_eq!(code, Some(OOM.0), "allocation {nth}: {e}");
                    }
                }
                assert_eq!(c_live(), before, "allocation {nth}");
                nth += 1;
            };
            let rows = rows.expect("a result").expect("collect").rows;
            assert_eq!(rows, [[b"alice".to_vec(), b"81.50".to_vec()]]);
            assert!(
                nth > 4,
                "result, fields, rows, DOUBLE buffer and row block can each fail"
            );
            assert_eq!(c_live(), before);
        },
    );
}

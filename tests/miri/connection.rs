//! Connecting, querying, fetching, errors, strings and closing.

use leaklab_lab::connector::safe::{ConnectOptions, Connection};
use leaklab_lab::connector::{Backend, Error, Field, FieldType};

use super::{c_live, connector_error, open, serial, texts};

#[test]
fn connect_then_close_returns_every_c_block() {
    crate::in_child::with_c_counters(
        "connection::connect_then_close_returns_every_c_block",
        || {
            let _serial = serial();
            let before = c_live();
            let conn = open();
            assert!(c_live().blocks > before.blocks, "a handle is C memory");
            conn.close().map_err(|(_, e)| e).expect("close");
            assert_eq!(c_live(), before);
        },
    );
}

#[test]
fn a_refused_connect_reports_and_frees_its_handle() {
    let _serial = serial();
    let before = c_live();
    let bad_password = ConnectOptions {
        password: "wrong".into(),
        ..ConnectOptions::default()
    };
    assert_eq!(
        connector_error(Connection::connect(&bad_password)),
        (1045, "Access denied for user 'lab'".into())
    );
    let bad_db = ConnectOptions {
        database: "nope".into(),
        ..ConnectOptions::default()
    };
    assert_eq!(
        connector_error(Connection::connect(&bad_db)),
        (1049, "Unknown database 'nope'".into())
    );
    assert_eq!(c_live(), before, "the failed handles were closed");
}

#[test]
fn select_fetches_the_seed_rows_and_fields() {
    let _serial = serial();
    let mut conn = open();
    let mut result = conn
        .query("SELECT * FROM people LIMIT 2")
        .expect("query")
        .expect("a SELECT has a result");
    assert_eq!((result.num_rows(), result.num_fields()), (2, 3));
    assert_eq!(result.affected_rows(), 2);
    let field = |name: &str, field_type| Field {
        name: name.into(),
        field_type,
    };
    assert_eq!(
        result.fields().expect("fields"),
        [
            field("name", FieldType::Text),
            field("age", FieldType::Int),
            field("score", FieldType::Double),
        ]
    );
    assert!(matches!(
        result.field(3),
        Err(Error::ColumnOutOfRange { index: 3, count: 3 })
    ));
    let row = result.fetch().expect("first row");
    assert_eq!(
        (row.get_str(0), row.get_str(1), row.get_str(2)),
        (Ok("alice"), Ok("34"), Ok("81.50"))
    );
    assert!(row.get_bytes(3).is_err());
    let row = result.fetch().expect("second row");
    assert_eq!(
        row.to_vec(),
        [b"bob".to_vec(), b"27".to_vec(), b"64.25".to_vec()]
    );
    assert!(result.fetch().is_none());
    assert!(
        result.fetch().is_none(),
        "fetch after the end stays at the end"
    );
}

#[test]
fn insert_delete_and_where_through_the_backend_trait() {
    let _serial = serial();
    let mut conn = open();
    let inserted = conn
        .execute("INSERT INTO people VALUES ('o''neil\\n', 50, 1.005)")
        .expect("insert");
    assert_eq!(inserted.affected_rows, 1);
    assert!(inserted.rows.is_empty());
    let found = conn
        .execute("SELECT name, score FROM people WHERE age >= 45")
        .expect("select");
    assert_eq!(
        texts(&found.rows),
        [["carol", "92.75"], ["o'neil\n", "1.00"]]
    );
    let deleted = conn
        .execute("DELETE FROM people WHERE score < 70")
        .expect("delete");
    assert_eq!(deleted.affected_rows, 3, "bob, dave and o'neil");
    assert_eq!(conn.stat().expect("stat"), "Queries: 3  Rows: 3");
}

#[test]
fn errors_carry_the_c_librarys_codes_and_messages() {
    let _serial = serial();
    let mut conn = open();
    let cases: [(&str, u32, &str); 6] = [
        (
            "SELECT FROM people @",
            1064,
            "You have an error in your SQL syntax at offset 7",
        ),
        (
            "SELECT * FROM nope",
            1146,
            "Table 'shop.nope' doesn't exist",
        ),
        ("SELECT height FROM people", 1054, "Unknown column 'height'"),
        (
            "SELECT * FROM people WHERE age = 'x'",
            1366,
            "Incorrect value for column 'age'",
        ),
        (" ; ", 1065, "Query was empty"),
        (
            "SELECT * FROM people WHERE name = 'open",
            1064,
            "You have an error in your SQL syntax at offset 34",
        ),
    ];
    for (sql, code, message) in cases {
        assert_eq!(
            connector_error(conn.query(sql).map(|_| ())),
            (code, message.into()),
            "{sql}"
        );
    }
    assert_eq!(
        conn.query("SELECT 'a\0b'").map(|_| ()),
        Err(Error::InteriorNul { position: 9 })
    );
    // The handle is still usable after every error.
    assert_eq!(
        conn.execute("SELECT age FROM people LIMIT 1")
            .expect("query")
            .rows,
        [[b"34".to_vec()]]
    );
}

#[test]
fn stat_and_escape_strings() {
    let _serial = serial();
    let mut conn = open();
    assert_eq!(conn.stat().expect("stat"), "Queries: 0  Rows: 5");
    conn.query("SELECT name FROM people").expect("query");
    assert_eq!(conn.stat().expect("stat"), "Queries: 1  Rows: 5");
    assert_eq!(
        conn.escape(b"it's\0\n\r\\\"\x1a!"),
        b"it\\'s\\0\\n\\r\\\\\\\"\\Z!".to_vec()
    );
    assert_eq!(conn.escape(b""), b"".to_vec());
}

#[test]
fn a_result_has_the_documented_blocks_and_bytes() {
    crate::in_child::with_c_counters(
        "connection::a_result_has_the_documented_blocks_and_bytes",
        || {
            let _serial = serial();
            let mut conn = open();
            let before = c_live();
            let result = conn
                .query("SELECT name, age FROM people LIMIT 2")
                .expect("query")
                .expect("result");
            let during = c_live().since(before);
            // LC_RES (48) + 2 LC_FIELDs (48) + 2 row pointers (16) + one block per
            // row: 2 value pointers and 2 lengths (32) + "alice\0" "34\0" / "bob\0" "27\0".
            assert_eq!(
                (during.blocks, during.bytes),
                (5, 48 + 48 + 16 + (32 + 9) + (32 + 7))
            );
            drop(result);
            assert_eq!(c_live(), before);
        },
    );
}

#[test]
fn drop_order_result_then_statement_then_connection() {
    let _serial = serial();
    let before = c_live();
    {
        let mut conn = open();
        let mut stmt = conn
            .prepare("SELECT name FROM people WHERE age < ?")
            .expect("prepare");
        stmt.bind(0, &leaklab_lab::connector::Param::Int(30))
            .expect("bind");
        stmt.execute().expect("execute");
        let mut result = stmt.store_result().expect("store").expect("rows");
        assert_eq!(result.fetch().expect("row").get_str(0), Ok("bob"));
        // result, stmt and conn drop here, in that order (the borrows force it).
    }
    assert_eq!(c_live(), before);
}

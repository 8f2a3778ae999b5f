//! Prepared statements: binding, executing, metadata, expanded SQL, errors.

use leaklab_lab::connector::{Backend, Field, FieldType, Param};

use super::{c_live, connector_error, open, serial, texts};

#[test]
fn a_prepared_select_binds_executes_and_stores() {
    let _serial = serial();
    let mut conn = open();
    let mut stmt = conn
        .prepare("SELECT name, score FROM people WHERE age > ?")
        .expect("prepare");
    assert_eq!(stmt.param_count(), 1);
    {
        let meta = stmt
            .metadata()
            .expect("metadata")
            .expect("a SELECT has fields");
        assert_eq!(meta.num_rows(), 0);
        assert_eq!(
            meta.fields().expect("fields"),
            [
                Field {
                    name: "name".into(),
                    field_type: FieldType::Text
                },
                Field {
                    name: "score".into(),
                    field_type: FieldType::Double
                },
            ]
        );
    }
    stmt.bind(0, &Param::Int(30)).expect("bind");
    assert_eq!(
        stmt.expanded_sql().expect("expanded"),
        "SELECT name, score FROM people WHERE age > 30"
    );
    stmt.execute().expect("execute");
    assert_eq!(stmt.affected_rows(), 3);
    let mut result = stmt.store_result().expect("store").expect("rows");
    let outcome = result.collect().expect("collect");
    assert_eq!(
        texts(&outcome.rows),
        [["alice", "81.50"], ["carol", "92.75"], ["eve", "73.10"]]
    );
    drop(result);
    assert!(
        stmt.store_result().expect("store again").is_none(),
        "rows are stored once"
    );
    stmt.close().expect("close");
}

#[test]
fn text_and_double_parameters_and_expanded_sql() {
    let _serial = serial();
    let mut conn = open();
    assert_eq!(
        conn.expanded_sql(
            "INSERT INTO people VALUES (?, ?, ?)",
            &[Param::Text(b"it's".to_vec()), Param::Int(7)],
        )
        .expect("expanded"),
        "INSERT INTO people VALUES ('it\\'s', 7, ?)",
        "an unbound parameter stays '?'"
    );
    let inserted = conn
        .execute_prepared(
            "INSERT INTO people VALUES (?, ?, ?)",
            &[
                Param::Text(b"zoe".to_vec()),
                Param::Int(7),
                Param::Double(2.675),
            ],
        )
        .expect("insert");
    assert_eq!(inserted.affected_rows, 1);
    let found = conn
        .execute_prepared(
            "SELECT * FROM people WHERE name = ?",
            &[Param::Text(b"zoe".to_vec())],
        )
        .expect("select");
    assert_eq!(texts(&found.rows), [["zoe", "7", "2.67"]]);
    assert_eq!(conn.stat().expect("stat"), "Queries: 2  Rows: 6");
}

#[test]
fn statement_errors() {
    let _serial = serial();
    let before = c_live();
    let mut conn = open();
    assert_eq!(
        connector_error(
            conn.prepare("SELECT nope FROM people WHERE age = ?")
                .map(|_| ())
        ),
        (1054, "Unknown column 'nope'".into())
    );
    let mut stmt = conn
        .prepare("SELECT name FROM people WHERE age = ?")
        .expect("prepare");
    assert_eq!(
        connector_error(stmt.execute()),
        (
            2031,
            "No data supplied for parameters in prepared statement".into()
        )
    );
    assert_eq!(
        connector_error(stmt.bind(1, &Param::Int(1))),
        (2034, "Invalid parameter number".into())
    );
    stmt.bind(0, &Param::Text(b"old".to_vec()))
        .expect("bind text");
    assert_eq!(
        connector_error(stmt.execute()),
        (1366, "Incorrect value for column 'age'".into())
    );
    // Rebinding frees the old text; executing then works.
    stmt.bind(0, &Param::Int(19)).expect("rebind");
    stmt.execute().expect("execute");
    let mut result = stmt.store_result().expect("store").expect("rows");
    assert_eq!(result.fetch().expect("row").get_str(0), Ok("dave"));
    drop(result);
    drop(stmt);
    drop(conn);
    assert_eq!(c_live(), before);
}

#[test]
fn insert_has_no_metadata_and_no_result() {
    let _serial = serial();
    let mut conn = open();
    let mut stmt = conn
        .prepare("DELETE FROM people WHERE name = ?")
        .expect("prepare");
    assert!(stmt.metadata().expect("metadata").is_none());
    stmt.bind(0, &Param::Text(b"eve".to_vec())).expect("bind");
    stmt.execute().expect("execute");
    assert_eq!(stmt.affected_rows(), 1);
    assert!(stmt.store_result().expect("store").is_none());
}

//! Behaviour tests of the whole backend, through its public API.

use super::*;
use crate::connector::types::{
    Backend, Error, Field, FieldType, MAX_QUERY_LEN, Outcome, Param, code,
};

fn conn() -> PureConnection {
    PureConnection::connect("localhost", "lab", "lab", "shop").expect("connect")
}

fn query(conn: &mut PureConnection, sql: &str) -> Outcome {
    conn.execute(sql).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Rows as strings, for readable assertions.
fn rows(outcome: &Outcome) -> Vec<Vec<String>> {
    outcome
        .rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .collect()
        })
        .collect()
}

/// The names selected by `SELECT name FROM people WHERE <cond>`.
fn names_where(cond: &str) -> Vec<String> {
    let outcome = query(
        &mut conn(),
        &format!("SELECT name FROM people WHERE {cond}"),
    );
    rows(&outcome)
        .into_iter()
        .map(|mut r| r.remove(0))
        .collect()
}

fn error<T: std::fmt::Debug>(result: Result<T, Error>) -> (u32, String) {
    match result {
        Err(Error::Connector { code, message }) => (code, message),
        other => panic!("expected a connector error, got {other:?}"),
    }
}

fn query_error(sql: &[u8]) -> (u32, String) {
    error(conn().query_bytes(sql))
}

/// The offset of a parse error, asserting its code and message.
fn parse_offset(sql: &[u8]) -> usize {
    let (code, message) = query_error(sql);
    assert_eq!(code, code::PARSE, "{message}");
    let offset = message
        .strip_prefix("You have an error in your SQL syntax at offset ")
        .expect("parse message");
    offset.parse().expect("offset")
}

fn field(name: &str, field_type: FieldType) -> Field {
    Field {
        name: name.to_string(),
        field_type,
    }
}

#[test]
fn connect_checks_credentials_then_database() {
    assert!(PureConnection::connect("", "lab", "lab", "shop").is_ok());
    let denied = error(PureConnection::connect("h", "root", "lab", "nope"));
    assert_eq!(denied, (1045, "Access denied for user 'root'".to_string()));
    let bad_password = error(PureConnection::connect("h", "lab", "x", "nope"));
    assert_eq!(
        bad_password,
        (1045, "Access denied for user 'lab'".to_string())
    );
    let bad_db = error(PureConnection::connect("h", "lab", "lab", "Shop"));
    assert_eq!(bad_db, (1049, "Unknown database 'Shop'".to_string()));
}

#[test]
fn seed_rows_exact_texts() {
    let outcome = query(&mut conn(), "SELECT * FROM people");
    assert_eq!(
        outcome.fields,
        vec![
            field("name", FieldType::Text),
            field("age", FieldType::Int),
            field("score", FieldType::Double),
        ]
    );
    assert_eq!(
        rows(&outcome),
        [
            ["alice", "34", "81.50"],
            ["bob", "27", "64.25"],
            ["carol", "45", "92.75"],
            ["dave", "19", "55.00"],
            ["eve", "38", "73.10"],
        ]
    );
    assert_eq!(outcome.affected_rows, 5);
}

#[test]
fn selected_columns_in_order_and_duplicates_repeat() {
    let outcome = query(&mut conn(), "select score, name, name from people limit 1");
    let names: Vec<_> = outcome.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["score", "name", "name"]);
    assert_eq!(rows(&outcome), [["81.50", "alice", "alice"]]);
}

#[test]
fn text_operators_compare_bytewise() {
    assert_eq!(names_where("name = 'bob'"), ["bob"]);
    assert_eq!(
        names_where("name != 'bob'"),
        ["alice", "carol", "dave", "eve"]
    );
    assert_eq!(
        names_where("name <> 'bob'"),
        ["alice", "carol", "dave", "eve"]
    );
    assert_eq!(names_where("name < 'carol'"), ["alice", "bob"]);
    assert_eq!(names_where("name <= 'carol'"), ["alice", "bob", "carol"]);
    assert_eq!(names_where("name > 'carol'"), ["dave", "eve"]);
    assert_eq!(names_where("name >= 'carol'"), ["carol", "dave", "eve"]);
    // The shorter of two equal prefixes is less; uppercase sorts first.
    assert_eq!(names_where("name < 'alicea'"), ["alice"]);
    assert_eq!(names_where("name > 'dav'"), ["dave", "eve"]);
    assert_eq!(names_where("name < 'a'"), Vec::<String>::new());
    assert_eq!(names_where("name > 'Z'").len(), 5);
}

#[test]
fn int_operators() {
    assert_eq!(names_where("age = 27"), ["bob"]);
    assert_eq!(names_where("age != 27"), ["alice", "carol", "dave", "eve"]);
    assert_eq!(names_where("age <> 27"), ["alice", "carol", "dave", "eve"]);
    assert_eq!(names_where("age < 34"), ["bob", "dave"]);
    assert_eq!(names_where("age <= 34"), ["alice", "bob", "dave"]);
    assert_eq!(names_where("age > 34"), ["carol", "eve"]);
    assert_eq!(names_where("age >= 34"), ["alice", "carol", "eve"]);
    assert_eq!(names_where("age > -9223372036854775808").len(), 5);
    assert_eq!(names_where("age>-1").len(), 5);
}

#[test]
fn double_operators_take_decimals_and_integers() {
    assert_eq!(names_where("score = 64.25"), ["bob"]);
    assert_eq!(names_where("score = 55"), ["dave"]);
    assert_eq!(names_where("score = 73.1"), ["eve"]);
    assert_eq!(names_where("score != 55"), ["alice", "bob", "carol", "eve"]);
    assert_eq!(
        names_where("score <> 55.00"),
        ["alice", "bob", "carol", "eve"]
    );
    assert_eq!(names_where("score < 73.1"), ["bob", "dave"]);
    assert_eq!(names_where("score <= 73.10"), ["bob", "dave", "eve"]);
    assert_eq!(names_where("score > 81"), ["alice", "carol"]);
    assert_eq!(names_where("score >= 81.5"), ["alice", "carol"]);
}

#[test]
fn limit() {
    let mut c = conn();
    assert_eq!(
        query(&mut c, "SELECT name FROM people LIMIT 2").rows.len(),
        2
    );
    let none = query(&mut c, "SELECT name FROM people LIMIT 0");
    assert!(none.rows.is_empty());
    assert_eq!(none.affected_rows, 0);
    assert_eq!(none.fields.len(), 1);
    let all = query(&mut c, "SELECT name FROM people LIMIT 9223372036854775807");
    assert_eq!(all.rows.len(), 5);
    let limited = query(&mut c, "SELECT name FROM people WHERE age > 20 LIMIT 2");
    assert_eq!(rows(&limited), [["alice"], ["bob"]]);
    assert_eq!(limited.affected_rows, 2);
}

#[test]
fn insert_then_select() {
    let mut c = conn();
    let inserted = query(&mut c, "INSERT INTO people VALUES ('zed', -3, 7);");
    assert_eq!(
        inserted,
        Outcome {
            fields: vec![],
            rows: vec![],
            affected_rows: 1
        }
    );
    let outcome = query(&mut c, "SELECT * FROM people WHERE name = 'zed'");
    assert_eq!(rows(&outcome), [["zed", "-3", "7.00"]]);
    let last = query(&mut c, "SELECT name FROM people WHERE age < 0");
    assert_eq!(rows(&last), [["zed"]]);
    assert_eq!(c.stat().unwrap(), "Queries: 3  Rows: 6");
}

#[test]
fn delete_reports_rows_deleted() {
    let mut c = conn();
    let deleted = query(&mut c, "DELETE FROM people WHERE age < 30");
    assert_eq!(deleted.affected_rows, 2);
    assert!(deleted.fields.is_empty() && deleted.rows.is_empty());
    let left = query(&mut c, "SELECT name FROM people");
    assert_eq!(rows(&left), [["alice"], ["carol"], ["eve"]]);
    assert_eq!(
        query(&mut c, "DELETE FROM people WHERE age = 1").affected_rows,
        0
    );
    assert_eq!(query(&mut c, "delete from people").affected_rows, 3);
    let empty = query(&mut c, "SELECT * FROM people");
    assert_eq!((empty.rows.len(), empty.fields.len()), (0, 3));
    assert_eq!(c.stat().unwrap(), "Queries: 5  Rows: 0");
}

#[test]
fn parse_error_offsets() {
    let cases: &[(&[u8], usize)] = &[
        (b"SELECT", 6),
        (b"SELECT * FROM   ", 16),
        (b"SELECT * FROM people WHERE", 26),
        (b"FROM people", 0),
        (b"  bogus", 2),
        (b"SELECT * FROM people WHERE name = 'open", 34),
        (b"SELECT * FROM people WHERE age = 9223372036854775808", 33),
        (b"SELECT * FROM people WHERE age = -9223372036854775809", 33),
        (b"SELECT * FROM people WHERE age = ?", 33),
        (b"SELECT * FROM people WHERE age # 1", 31),
        (b"SELECT * FROM people WHERE age = - 1", 33),
        (b"SELECT * FROM people WHERE age ! 1", 31),
        (b"SELECT * FROM people WHERE age < > 1", 33),
        (b"SELECT * FROM people WHERE age = 5.", 34),
        (b"SELECT * FROM people WHERE name = \"bob\"", 34),
        (b"SELECT *, name FROM people", 8),
        (b"SELECT name, * FROM people", 13),
        (b"SELECT name FROM people LIMIT 1 WHERE age = 1", 32),
        (b"SELECT * FROM people; SELECT * FROM people", 22),
        (b"SELECT * FROM people;;", 21),
        (b"; SELECT * FROM people", 0),
        (b"SELECT * FROM people x", 21),
        (b"INSERT people VALUES (1, 2, 3)", 7),
        (b"INSERT INTO people VALUES (1, 2)", 31),
        (b"INSERT INTO people VALUES (1, 2, 3, 4)", 34),
        (b"DELETE people", 7),
        (b"SELECT * FROM people \x00", 21),
        (b"SELECT * FROM people WHERE name = \xc3\xa9", 34),
        // The first token that does not fit wins over later bad bytes.
        (b"SELECT FROM people #", 7),
        (b"SELECT * FROM select", 14),
        (b"SELECT Limit FROM people", 7),
    ];
    for &(sql, offset) in cases {
        assert_eq!(
            parse_offset(sql),
            offset,
            "{}",
            String::from_utf8_lossy(sql)
        );
    }
}

#[test]
fn seventeenth_column_is_a_parse_error() {
    let sixteen = vec!["name"; 16].join(", ");
    let ok = query(&mut conn(), &format!("SELECT {sixteen} FROM people"));
    assert_eq!(ok.fields.len(), 16);
    let sql = format!("SELECT {sixteen}, age FROM people");
    assert_eq!(parse_offset(sql.as_bytes()), sql.find(", age").unwrap() + 2);
}

#[test]
fn keywords_ignore_case_but_names_do_not() {
    assert_eq!(query(&mut conn(), "sElEcT * FrOm people").rows.len(), 5);
    assert_eq!(
        query_error(b"SELECT * FROM People"),
        (1146, "Table 'shop.People' doesn't exist".to_string())
    );
    assert_eq!(
        query_error(b"SELECT Name FROM people"),
        (1054, "Unknown column 'Name'".to_string())
    );
}

#[test]
fn length_limit() {
    let long = vec![b' '; 65537];
    assert_eq!(
        query_error(&long),
        (1153, "Query is longer than 65536 bytes".to_string())
    );
    let mut exact = b"SELECT * FROM people".to_vec();
    exact.resize(65536, b' ');
    assert!(conn().query_bytes(&exact).is_ok());
}

#[test]
fn empty_queries() {
    let empty = (1065, "Query was empty".to_string());
    for sql in [&b""[..], b"   ", b";", b" ; ;\n\t\x0b\x0c\r"] {
        assert_eq!(query_error(sql), empty);
    }
}

#[test]
fn error_precedence() {
    // Syntax before the table, table before columns, columns left to right,
    // columns before literal types, literal types left to right.
    assert_eq!(parse_offset(b"SELECT * FROM nope WHERE"), 24);
    assert_eq!(query_error(b"SELECT nope FROM nope").0, 1146);
    let first = query_error(b"SELECT a, b FROM people WHERE c = 1");
    assert_eq!(first, (1054, "Unknown column 'a'".to_string()));
    let filter = query_error(b"SELECT name FROM people WHERE c = 'x'");
    assert_eq!(filter, (1054, "Unknown column 'c'".to_string()));
    assert_eq!(query_error(b"DELETE FROM nope WHERE c = 1").0, 1146);
    assert_eq!(query_error(b"INSERT INTO nope VALUES (1, 2, 3)").0, 1146);
    let wrong = |column: &str| (1366, format!("Incorrect value for column '{column}'"));
    assert_eq!(
        query_error(b"INSERT INTO people VALUES (1, 'y', 'z')"),
        wrong("name")
    );
    assert_eq!(
        query_error(b"INSERT INTO people VALUES ('x', 'y', 'z')"),
        wrong("age")
    );
    assert_eq!(
        query_error(b"INSERT INTO people VALUES ('x', 1, 'z')"),
        wrong("score")
    );
}

#[test]
fn wrong_literal_types() {
    let wrong = |column: &str| (1366, format!("Incorrect value for column '{column}'"));
    assert_eq!(
        query_error(b"SELECT * FROM people WHERE name = 1"),
        wrong("name")
    );
    assert_eq!(
        query_error(b"SELECT * FROM people WHERE name = 1.5"),
        wrong("name")
    );
    assert_eq!(
        query_error(b"SELECT * FROM people WHERE age = 1.0"),
        wrong("age")
    );
    assert_eq!(
        query_error(b"SELECT * FROM people WHERE age = '1'"),
        wrong("age")
    );
    assert_eq!(
        query_error(b"DELETE FROM people WHERE score = '1'"),
        wrong("score")
    );
    assert_eq!(
        query_error(b"INSERT INTO people VALUES ('x', 1.5, 1)"),
        wrong("age")
    );
}

#[test]
fn failed_queries_are_not_counted() {
    let mut c = conn();
    assert_eq!(c.stat().unwrap(), "Queries: 0  Rows: 5");
    assert!(c.execute("DELETE FROM people WHERE age = 'x'").is_err());
    assert!(c.execute("").is_err());
    query(&mut c, "SELECT * FROM people WHERE age = 0");
    assert_eq!(c.stat().unwrap(), "Queries: 1  Rows: 5");
}

#[test]
fn text_literal_escapes_round_trip() {
    let mut c = conn();
    query(
        &mut c,
        r#"INSERT INTO people VALUES ('it''s \'q\' \"d\" a\\b \n\r\t\Z\0 \x', 1, 1)"#,
    );
    let outcome = query(&mut c, "SELECT name FROM people WHERE age = 1");
    assert_eq!(
        outcome.rows,
        [[b"it's 'q' \"d\" a\\b \n\r\t\x1a\0 x".to_vec()]]
    );
}

#[test]
fn nul_bytes_inside_text_literals() {
    let mut c = conn();
    c.query_bytes(b"INSERT INTO people VALUES ('a\x00b', 2, 2.5)")
        .unwrap();
    let outcome = c
        .query_bytes(b"SELECT name, score FROM people WHERE name = 'a\\0b'")
        .unwrap();
    assert_eq!(outcome.rows, [[b"a\0b".to_vec(), b"2.50".to_vec()]]);
    // "a\0b" sorts before "a\x01" (and "alice" after it).
    let less = c
        .query_bytes(b"SELECT age FROM people WHERE name < 'a\x01'")
        .unwrap();
    assert_eq!(less.rows, [[b"2".to_vec()]]);
}

#[test]
fn formatting_ties_match_glibc() {
    let mut c = conn();
    for (i, score) in [
        "0.125", "0.375", "2.675", "-0.125", "1.005", "-0.0", "-0.001", "2.5",
    ]
    .iter()
    .enumerate()
    {
        query(
            &mut c,
            &format!("INSERT INTO people VALUES ('t', {i}, {score})"),
        );
    }
    let outcome = query(&mut c, "SELECT score FROM people WHERE name = 't'");
    let scores: Vec<_> = rows(&outcome)
        .into_iter()
        .map(|mut r| r.remove(0))
        .collect();
    assert_eq!(
        scores,
        [
            "0.12", "0.38", "2.67", "-0.12", "1.00", "-0.00", "-0.00", "2.50"
        ]
    );
    // -0 lexes as the integer 0.
    query(&mut c, "INSERT INTO people VALUES ('z', -0, -0)");
    let zero = query(&mut c, "SELECT age, score FROM people WHERE name = 'z'");
    assert_eq!(rows(&zero), [["0", "0.00"]]);
}

#[test]
fn escape_matches_lc_real_escape_string() {
    let c = conn();
    assert_eq!(
        c.escape(b"\0\n\r\\'\"\x1a\t ok"),
        b"\\0\\n\\r\\\\\\'\\\"\\Z\t ok".to_vec()
    );
}

#[test]
fn prepared_statements_bind_in_order() {
    let mut c = conn();
    let params = [
        Param::Text(b"o'neil".to_vec()),
        Param::Int(50),
        Param::Double(1.5),
    ];
    let inserted = c
        .execute_prepared("INSERT INTO people VALUES (?, ?, ?)", &params)
        .unwrap();
    assert_eq!(inserted.affected_rows, 1);
    let found = c
        .execute_prepared("SELECT * FROM people WHERE age >= ?", &[Param::Int(45)])
        .unwrap();
    assert_eq!(
        rows(&found),
        [["carol", "45", "92.75"], ["o'neil", "50", "1.50"]]
    );
    let by_int = c
        .execute_prepared("SELECT name FROM people WHERE score = ?", &[Param::Int(55)])
        .unwrap();
    assert_eq!(rows(&by_int), [["dave"]]);
    assert_eq!(c.stat().unwrap(), "Queries: 3  Rows: 6");
}

#[test]
fn prepared_parameter_errors() {
    let mut c = conn();
    let sql = "SELECT * FROM people WHERE age = ?";
    let too_many = error(c.execute_prepared(sql, &[Param::Int(1), Param::Int(2)]));
    assert_eq!(too_many, (2034, "Invalid parameter number".to_string()));
    let not_bound = (
        2031,
        "No data supplied for parameters in prepared statement".to_string(),
    );
    assert_eq!(error(c.execute_prepared(sql, &[])), not_bound);
    let wrong = error(c.execute_prepared(sql, &[Param::Double(1.0)]));
    assert_eq!(
        wrong,
        (1366, "Incorrect value for column 'age'".to_string())
    );
    let text = error(c.execute_prepared(sql, &[Param::Text(b"1".to_vec())]));
    assert_eq!(text.0, 1366);
    // Prepare errors come first (written literals' types included), binding
    // errors next, bound values' types last.
    let table = error(c.execute_prepared("SELECT * FROM nope", &[Param::Int(1)]));
    assert_eq!(table.0, 1146);
    // A literal written in the query is checked at prepare, before binding.
    let written_first = c.execute_prepared("INSERT INTO people VALUES (1, ?, 3)", &[]);
    assert_eq!(
        error(written_first),
        (1366, "Incorrect value for column 'name'".to_string())
    );
    let unbound_first = c.execute_prepared("INSERT INTO people VALUES (?, ?, 3)", &[]);
    assert_eq!(error(unbound_first), not_bound);
    let no_marks = error(c.execute_prepared("SELECT * FROM people", &[Param::Int(1)]));
    assert_eq!(no_marks.0, 2034);
    assert_eq!(c.stat().unwrap(), "Queries: 0  Rows: 5");
}

#[test]
fn parse_and_run_apart() {
    let stmt = parse(b"DELETE FROM people WHERE name = ? ;", true).unwrap();
    assert_eq!(stmt.param_count(), 1);
    assert!(stmt.fields().is_empty());
    let mut c = conn();
    assert_eq!(error(c.run(&stmt, &[None])).0, 2031);
    assert_eq!(error(c.run(&stmt, &[None, None])).0, 2034);
    let bob = [Some(Param::Text(b"bob".to_vec()))];
    assert_eq!(c.run(&stmt, &bob).unwrap().affected_rows, 1);
    assert_eq!(c.run(&stmt, &bob).unwrap().affected_rows, 0);
    assert_eq!(c.stat_line(), "Queries: 2  Rows: 4");

    let select = parse(b"SELECT age, age FROM people", false).unwrap();
    assert_eq!(select.param_count(), 0);
    assert_eq!(select.fields(), vec![field("age", FieldType::Int); 2]);
    assert_eq!(
        parse(b"SELECT * FROM people WHERE age = ?", false).map(|_| ()),
        Err(error_at(33))
    );
}

fn error_at(offset: usize) -> Error {
    Error::Connector {
        code: code::PARSE,
        message: format!("You have an error in your SQL syntax at offset {offset}"),
    }
}

#[test]
fn expanded_sql_renders_bound_values() {
    let mut c = conn();
    let sql = "INSERT INTO people VALUES (?, ?,? );";
    let params = [
        Param::Text(b"a'b\\\0".to_vec()),
        Param::Int(-7),
        Param::Double(0.125),
    ];
    assert_eq!(
        c.expanded_sql(sql, &params).unwrap(),
        r"INSERT INTO people VALUES ('a\'b\\\0', -7,0.12 );"
    );
    assert_eq!(
        c.expanded_sql(sql, &params[..1]).unwrap(),
        r"INSERT INTO people VALUES ('a\'b\\\0', ?,? );"
    );
    let in_text = "SELECT * FROM people WHERE name = '?'";
    assert_eq!(c.expanded_sql(in_text, &[]).unwrap(), in_text);
    assert_eq!(error(c.expanded_sql(in_text, &[Param::Int(1)])).0, 2034);
    let stmt = parse(b"DELETE FROM people WHERE score > ?", true).unwrap();
    assert_eq!(
        stmt.expanded_sql(&[Some(Param::Double(-2.675))]),
        b"DELETE FROM people WHERE score > -2.67".to_vec()
    );
    assert_eq!(stmt.expanded_sql(&[None]), stmt.sql().to_vec());
    let bad = c.expanded_sql(
        "SELECT * FROM people WHERE name = ?",
        &[Param::Text(vec![0xff])],
    );
    assert_eq!(bad, Err(Error::InvalidUtf8 { valid_up_to: 35 }));
    assert_eq!(c.stat().unwrap(), "Queries: 0  Rows: 5");
}

#[test]
fn doubles_from_params_keep_ieee_semantics() {
    let mut c = conn();
    let insert = "INSERT INTO people VALUES ('n', 1, ?)";
    c.execute_prepared(insert, &[Param::Double(f64::NAN)])
        .unwrap();
    c.execute_prepared(insert, &[Param::Double(f64::NEG_INFINITY)])
        .unwrap();
    let all = query(&mut c, "SELECT score FROM people WHERE name = 'n'");
    assert_eq!(rows(&all), [["nan"], ["-inf"]]);
    let select = "SELECT name FROM people WHERE score != ?";
    let ne = c
        .execute_prepared(select, &[Param::Double(f64::NAN)])
        .unwrap();
    assert_eq!(ne.rows.len(), 7);
    let eq = c.execute_prepared(
        "SELECT name FROM people WHERE score = ?",
        &[Param::Double(f64::NAN)],
    );
    assert!(eq.unwrap().rows.is_empty());
}

#[test]
fn long_text_literal_fills_the_limit() {
    let prefix = b"INSERT INTO people VALUES ('";
    let suffix = b"', 1, 1)";
    let mut sql = prefix.to_vec();
    sql.resize(MAX_QUERY_LEN - suffix.len(), b'x');
    sql.extend_from_slice(suffix);
    let mut c = conn();
    c.query_bytes(&sql).unwrap();
    let outcome = query(&mut c, "SELECT name FROM people WHERE age = 1");
    assert_eq!(
        outcome.rows[0][0].len(),
        65536 - prefix.len() - suffix.len()
    );
    sql.insert(prefix.len(), b'y');
    assert_eq!(query_error(&sql).0, 1153);
}

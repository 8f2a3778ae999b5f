//! The C library (through the safe binding) and the pure-Rust backend give
//! identical answers: rows, fields, affected rows, error codes and
//! messages. That is what makes `--backend pure` a fix and not a change.

use leaklab_lab::connector::pure::PureConnection;
use leaklab_lab::connector::safe::Connection;
use leaklab_lab::connector::{Backend, Param};

fn both() -> (Connection, PureConnection) {
    (
        Connection::open_default().expect("C backend connects"),
        PureConnection::connect("localhost", "lab", "lab", "shop").expect("pure backend connects"),
    )
}

/// Runs each statement on both backends, in order, comparing every answer.
fn same_answers(script: &[&str]) {
    let (mut c, mut pure) = both();
    for sql in script {
        let from_c = c.execute(sql);
        let from_pure = pure.execute(sql);
        assert_eq!(from_c, from_pure, "backends differ on {sql:?}");
    }
    assert_eq!(
        c.stat(),
        pure.stat(),
        "status lines differ after {script:?}"
    );
}

#[test]
fn selects_filters_and_limits() {
    same_answers(&[
        "SELECT * FROM people",
        "select name, age from people where age >= 34",
        "SELECT name, name FROM people LIMIT 2",
        "SELECT score FROM people WHERE score < 70",
        "SELECT name FROM people WHERE name > 'bob' LIMIT 0",
        "SELECT age FROM people WHERE score = 81.5;",
        "SELECT name FROM people WHERE score <> 55",
        "SELECT name FROM people WHERE age != -1",
    ]);
}

#[test]
fn writes_then_reads() {
    same_answers(&[
        "INSERT INTO people VALUES ('zoe', 29, 77.25)",
        "INSERT INTO people VALUES ('o\\'hara', 51, -3)",
        "INSERT INTO people VALUES ('it''s', 0, 0.125)",
        "SELECT * FROM people",
        "DELETE FROM people WHERE age < 30",
        "SELECT name, age FROM people",
        "DELETE FROM people",
        "SELECT * FROM people",
    ]);
}

#[test]
fn errors_and_their_messages() {
    same_answers(&[
        "",
        "   ;",
        "SELEKT * FROM people",
        "SELECT * FROM",
        "SELECT * FROM people WHERE",
        "SELECT * FROM people WHERE age = 'x'",
        "SELECT * FROM people WHERE name = 3",
        "SELECT height FROM people",
        "SELECT * FROM users",
        "SELECT * FROM people LIMIT -1",
        "SELECT * FROM people WHERE age = ?",
        "SELECT * FROM people WHERE name = 'unterminated",
        "SELECT * FROM people WHERE age = 99999999999999999999",
        "INSERT INTO people VALUES ('x', 1.5, 2)",
        "INSERT INTO people VALUES ('x', 1)",
        "DELETE people",
        "SELECT * FROM people extra",
        "SELECT name FROM people @",
    ]);
}

#[test]
fn prepared_statements_and_expanded_sql() {
    let (mut c, mut pure) = both();
    let cases: &[(&str, Vec<Param>)] = &[
        (
            "SELECT name FROM people WHERE age > ?",
            vec![Param::Int(30)],
        ),
        (
            "SELECT name FROM people WHERE score <= ?",
            vec![Param::Double(64.25)],
        ),
        (
            "SELECT name FROM people WHERE name = ?",
            vec![Param::Text(b"eve".to_vec())],
        ),
        (
            "INSERT INTO people VALUES (?, ?, ?)",
            vec![
                Param::Text(b"new\n'line'".to_vec()),
                Param::Int(7),
                Param::Double(1.005),
            ],
        ),
        ("SELECT * FROM people WHERE age = ?", vec![]),
        (
            "SELECT * FROM people WHERE age = ?",
            vec![Param::Int(1), Param::Int(2)],
        ),
        (
            "SELECT * FROM people WHERE age = ?",
            vec![Param::Text(b"x".to_vec())],
        ),
        ("SELECT * FROM people", vec![]),
    ];
    for (sql, params) in cases {
        assert_eq!(
            c.execute_prepared(sql, params),
            pure.execute_prepared(sql, params),
            "{sql} {params:?}"
        );
        assert_eq!(
            c.expanded_sql(sql, params),
            pure.expanded_sql(sql, params),
            "expanded {sql} {params:?}"
        );
    }
    assert_eq!(
        c.execute("SELECT * FROM people"),
        pure.execute("SELECT * FROM people")
    );
}

#[test]
fn escaping() {
    let (c, pure) = both();
    let every_byte: Vec<u8> = (0..=255u8).collect();
    for input in [
        &b""[..],
        b"plain",
        b"it's \"quoted\"\n\r\\\0\x1a",
        &every_byte,
    ] {
        assert_eq!(Backend::escape(&c, input), Backend::escape(&pure, input));
    }
}

#[test]
fn every_operator_on_every_column() {
    let mut script = Vec::new();
    for op in ["=", "!=", "<>", "<", "<=", ">", ">="] {
        for (column, literal) in [
            ("name", "'carol'"),
            ("age", "34"),
            ("score", "73.1"),
            ("score", "64"),
            ("age", "73.1"),
        ] {
            script.push(format!(
                "SELECT name FROM people WHERE {column} {op} {literal}"
            ));
        }
    }
    let script: Vec<&str> = script.iter().map(String::as_str).collect();
    same_answers(&script);
}

#[test]
fn prepare_checks_written_literals_as_c_does() {
    let (mut c, _) = both();
    for sql in [
        "SELECT name FROM people WHERE age = 'x'",
        "SELECT name FROM people WHERE name = ?",
        "INSERT INTO people VALUES (?, 1.5, ?)",
        "INSERT INTO people VALUES ('a', ?, 'b')",
        "DELETE FROM people WHERE score > 'high'",
    ] {
        let from_c = c.prepare(sql).map(|s| s.param_count());
        let from_pure =
            leaklab_lab::connector::pure::parse(sql.as_bytes(), true).map(|s| s.param_count());
        assert_eq!(from_c, from_pure, "prepare {sql:?}");
    }
}

#[test]
fn written_literals_fail_before_unbound_parameters() {
    let (mut c, mut pure) = both();
    for sql in [
        "INSERT INTO people VALUES (1, ?, 3)",
        "INSERT INTO people VALUES (?, ?, 3)",
    ] {
        assert_eq!(
            c.execute_prepared(sql, &[]),
            pure.execute_prepared(sql, &[]),
            "{sql}"
        );
    }
}

#[test]
fn a_double_longer_than_the_c_buffer_is_cut_to_31_bytes() {
    let (mut c, mut pure) = both();
    let select = "SELECT score FROM people WHERE name = 'x'";
    for insert in [
        "INSERT INTO people VALUES ('x', 1, 10000000000000000000000000000000.0)",
        "INSERT INTO people VALUES ('x', 1, -10000000000000000000000000000.0)",
        "INSERT INTO people VALUES ('x', 1, 1000000000000000000000000000.0)",
        "DELETE FROM people WHERE name = 'x'",
    ] {
        assert_eq!(c.execute(insert), pure.execute(insert), "{insert}");
        assert_eq!(c.execute(select), pure.execute(select), "after {insert}");
    }
    let from_c = c.execute(select).expect("select runs");
    assert!(from_c.rows.is_empty());
    let insert = "INSERT INTO people VALUES (?, ?, ?)";
    let params = [
        Param::Text(b"y".to_vec()),
        Param::Int(1),
        Param::Double(1e40),
    ];
    assert_eq!(
        c.execute_prepared(insert, &params),
        pure.execute_prepared(insert, &params)
    );
    // The expanded SQL is never cut.
    assert_eq!(
        c.expanded_sql(insert, &params),
        pure.expanded_sql(insert, &params)
    );
    let select = "SELECT score FROM people WHERE name = 'y'";
    let from_c = c.execute(select);
    assert_eq!(from_c, pure.execute(select));
    let row = &from_c.expect("select runs").rows[0][0];
    assert_eq!(row.as_slice(), b"1000000000000000030378602842700");
}

#[test]
fn expanded_sql_of_a_query_holding_a_nul() {
    let (mut c, mut pure) = both();
    let sql = "INSERT INTO people VALUES ('a\0b', ?, 1.5)";
    let params = [Param::Int(1)];
    let from_c = c.expanded_sql(sql, &params);
    assert_eq!(from_c, pure.expanded_sql(sql, &params));
    assert_eq!(
        from_c,
        Err(leaklab_lab::connector::Error::InteriorNul { position: 29 })
    );
    // Executing it works: the prepared query is passed with its length.
    assert_eq!(
        c.execute_prepared(sql, &params),
        pure.execute_prepared(sql, &params)
    );
}

#[test]
fn a_query_holding_a_nul_is_refused_by_both() {
    let (mut c, mut pure) = both();
    for sql in [
        "SELECT * FROM people WHERE name = 'a\0b'",
        "\0",
        "SELECT * FROM people\0",
    ] {
        let from_c = c.execute(sql);
        assert!(
            matches!(
                from_c,
                Err(leaklab_lab::connector::Error::InteriorNul { .. })
            ),
            "{from_c:?}"
        );
        assert_eq!(from_c, pure.execute(sql), "{sql:?}");
    }
}

#[test]
fn a_query_over_the_limit_is_refused_by_both() {
    let (mut c, mut pure) = both();
    let limit = leaklab_lab::connector::types::MAX_QUERY_LEN;
    let query = |len: usize| {
        let mut sql = String::from("SELECT * FROM people");
        sql.push_str(&" ".repeat(len - sql.len()));
        sql
    };
    for len in [limit, limit + 1, 2 * limit] {
        let sql = query(len);
        assert_eq!(c.execute(&sql), pure.execute(&sql), "execute, {len} bytes");
        assert_eq!(
            c.execute_prepared(&sql, &[]),
            pure.execute_prepared(&sql, &[]),
            "prepared, {len} bytes"
        );
        assert_eq!(
            c.expanded_sql(&sql, &[]),
            pure.expanded_sql(&sql, &[]),
            "expanded, {len} bytes"
        );
    }
    let sql = query(limit + 1);
    assert!(matches!(
        c.execute(&sql),
        Err(leaklab_lab::connector::Error::QueryTooLong { .. })
    ));
}

#[test]
fn connect_errors_are_the_same_byte_for_byte() {
    use leaklab_lab::connector::safe::ConnectOptions;
    for user in [
        "é".repeat(300),
        "x".repeat(600),
        "é".repeat(100),
        "nobody".to_string(),
        "a\0b".to_string(),
        "€".repeat(200),
        String::new(),
    ] {
        let options = ConnectOptions {
            user: user.clone(),
            ..ConnectOptions::default()
        };
        let from_c = Connection::connect(&options).map(drop);
        let from_pure = PureConnection::connect("localhost", &user, "lab", "shop").map(drop);
        assert_eq!(from_c, from_pure, "user {user:?}");
    }
    let options = ConnectOptions {
        database: "d".repeat(700),
        ..ConnectOptions::default()
    };
    assert_eq!(
        Connection::connect(&options).map(drop),
        PureConnection::connect("localhost", "lab", "lab", &options.database).map(drop)
    );
}

//! Differential check: the C library (through the safe binding) and the
//! pure-Rust backend, driven by the same random sequences of operations,
//! give the same answer to every one of them.
//!
//! Operations: connect with a random user, password and database (long,
//! multi-byte, holding a NUL); execute SQL built from a small grammar of the
//! query language with its edge cases (NUL bytes inside and outside text
//! literals, long names and texts, decimals too long for the C row buffer,
//! integers outside int64, queries around the 65536-byte limit, stray
//! bytes); prepared statements with random parameters (text that is not
//! UTF-8, NaN, infinities, huge doubles), their expanded SQL; escape; stat.
//!
//! The seed and the case count are fixed, so every run checks the same
//! cases: a divergence found once is found every time, and shrunk to a
//! small sequence in the failure message.

use leaklab_lab::connector::pure::PureConnection;
use leaklab_lab::connector::safe::{ConnectOptions, Connection};
use leaklab_lab::connector::types::MAX_QUERY_LEN;
use leaklab_lab::connector::{Backend, Param};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

/// Sequences checked per run, and the seed they are drawn from.
const CASES: u32 = 1024;
const SEED: [u8; 32] = *b"leaklab differential c vs pure!!";

#[derive(Debug, Clone)]
enum Op {
    Connect {
        user: String,
        password: String,
        database: String,
    },
    Execute(String),
    Prepared {
        sql: String,
        params: Vec<Param>,
    },
    Escape(Vec<u8>),
    Stat,
}

/// A random mix of case for a keyword: keywords are case-insensitive.
fn keyword(word: &'static str) -> impl Strategy<Value = String> {
    prop::collection::vec(any::<bool>(), word.len()).prop_map(move |upper| {
        word.chars()
            .zip(upper)
            .map(|(c, up)| {
                if up {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect()
    })
}

/// Whitespace between tokens, the rare kinds included.
fn space() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => Just(" ".to_string()),
        1 => prop::sample::select(vec!["\t", "\n", "\x0b", "\x0c", "\r", "  "])
            .prop_map(str::to_string),
    ]
}

/// Table names: the one table, near misses, a keyword, a long name (its
/// error message is cut at the C buffer).
fn table() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => Just("people".to_string()),
        1 => prop::sample::select(vec!["users", "People", "peoplex", "FROM", "_t9"])
            .prop_map(str::to_string),
        1 => (400usize..700).prop_map(|n| "t".repeat(n)),
    ]
}

fn column() -> impl Strategy<Value = String> {
    prop_oneof![
        9 => prop::sample::select(vec!["name", "age", "score"]).prop_map(str::to_string),
        1 => prop::sample::select(vec!["height", "Name", "LIMIT", "x1"]).prop_map(str::to_string),
        1 => (490usize..520).prop_map(|n| "c".repeat(n)),
    ]
}

fn columns() -> BoxedStrategy<String> {
    prop_oneof![
        2 => Just("*".to_string()),
        5 => prop::collection::vec(column(), 1..4).prop_map(|c| c.join(", ")),
        1 => prop::collection::vec(column(), 15..19).prop_map(|c| c.join(",")),
    ]
    .boxed()
}

/// A text literal's inside: plain, every escape, a raw NUL, multi-byte, long.
fn text_body() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "a", "bob", "eve", "x", "''", "\\'", "\\\"", "\\\\", "\\0", "\\n", "\\r", "\\t", "\\Z",
        "\\q", "\0", "é", "€", "\n", "\"", "?", " ",
    ]);
    prop_oneof![
        6 => prop::collection::vec(piece, 0..6).prop_map(|p| p.concat()),
        1 => (0usize..700).prop_map(|n| "n".repeat(n)),
    ]
}

fn text_literal() -> BoxedStrategy<String> {
    prop_oneof![
        10 => text_body().prop_map(|t| format!("'{t}'")),
        1 => text_body().prop_map(|t| format!("'{t}")),
        1 => text_body().prop_map(|t| format!("'{t}\\")),
    ]
    .boxed()
}

/// Decimals: small ones, ones near ties, and long ones whose "%.2f" does not
/// fit the C row buffer (31 bytes).
fn decimal() -> BoxedStrategy<String> {
    prop_oneof![
        4 => ("-?[0-9]{1,3}", "[0-9]{1,3}").prop_map(|(i, f)| format!("{i}.{f}")),
        2 => ("-?[1-9][0-9]{25,45}", "[0-9]{1,3}").prop_map(|(i, f)| format!("{i}.{f}")),
        1 => prop::sample::select(vec![
            "10000000000000000000000000000000.0",
            "-1000000000000000000000000000000.0",
            "1000000000000000000000000000.125",
            "0.005",
            "2.675",
            "-0.0",
        ])
        .prop_map(str::to_string),
        1 => (300usize..320).prop_map(|n| format!("1{}.0", "0".repeat(n))),
    ]
    .boxed()
}

fn integer() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (-100i64..100).prop_map(|i| i.to_string()),
        2 => any::<i64>().prop_map(|i| i.to_string()),
        1 => prop::sample::select(vec![
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "-9223372036854775809",
            "99999999999999999999",
        ])
        .prop_map(str::to_string),
    ]
}

/// A literal; `?` too, which only prepared statements take.
fn literal() -> BoxedStrategy<String> {
    prop_oneof![
        4 => text_literal(),
        3 => integer(),
        3 => decimal(),
        2 => Just("?".to_string()),
    ]
    .boxed()
}

fn op_token() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["=", "!=", "<>", "<", "<=", ">", ">="])
}

fn filter() -> BoxedStrategy<String> {
    prop_oneof![
        2 => Just(String::new()),
        5 => (keyword("where"), column(), space(), op_token(), space(), literal())
            .prop_map(|(w, c, s1, o, s2, l)| format!(" {w} {c}{s1}{o}{s2}{l}")),
    ]
    .boxed()
}

fn limit() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => Just(String::new()),
        2 => (keyword("limit"), 0u8..7).prop_map(|(k, n)| format!(" {k} {n}")),
        1 => (keyword("limit"), prop::sample::select(vec!["-1", "1.5", "?", "'2'", "99999999999999999999"]))
            .prop_map(|(k, n)| format!(" {k} {n}")),
    ]
}

fn tail() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => Just(String::new()),
        2 => Just(";".to_string()),
        1 => prop::sample::select(vec![" ;", "; ;", " extra", " @", "\0", " ,", " é", ")", "\\"])
            .prop_map(str::to_string),
    ]
}

fn select() -> BoxedStrategy<String> {
    (
        keyword("select"),
        columns(),
        keyword("from"),
        table(),
        filter(),
        limit(),
        tail(),
    )
        .prop_map(|(s, c, f, t, w, l, e)| format!("{s} {c} {f} {t}{w}{l}{e}"))
        .boxed()
}

/// Three values: mostly of the right types (name, age, score), so rows
/// with long texts and long decimals get into the table; sometimes any.
fn values() -> BoxedStrategy<Vec<String>> {
    let maybe_param =
        |s: BoxedStrategy<String>| prop_oneof![4 => s, 1 => Just("?".to_string())].boxed();
    let score = prop_oneof![3 => decimal(), 1 => integer()].boxed();
    prop_oneof![
        3 => (
            maybe_param(text_literal()),
            maybe_param(integer().boxed()),
            maybe_param(score),
        )
            .prop_map(|(name, age, score)| vec![name, age, score]),
        1 => prop::collection::vec(literal(), 1..5),
    ]
    .boxed()
}

fn insert() -> BoxedStrategy<String> {
    (
        keyword("insert"),
        keyword("into"),
        table(),
        keyword("values"),
        values(),
        tail(),
    )
        .prop_map(|(i, n, t, v, lits, e)| format!("{i} {n} {t} {v} ({}){e}", lits.join(", ")))
        .boxed()
}

fn delete() -> BoxedStrategy<String> {
    (
        keyword("delete"),
        keyword("from"),
        table(),
        filter(),
        tail(),
    )
        .prop_map(|(d, f, t, w, e)| format!("{d} {f} {t}{w}{e}"))
        .boxed()
}

/// Queries no grammar rule makes: empty, blank, stray bytes, a NUL.
fn odd() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "", " ", ";", "SELECT", "*", "FROM", "people", "@", "\0", "#", "1.", "1e5", "-", "-.5",
        "(", ")", ",", "?", "'", "é", "\u{7f}", "\x01",
    ]);
    prop::collection::vec(piece, 0..7).prop_map(|p| p.join(" "))
}

/// A statement padded with blanks to around the 65536-byte limit (blanks
/// before a trailing ';' keep it valid up to the limit).
fn huge(statement: impl Strategy<Value = String>) -> impl Strategy<Value = String> {
    (statement, -3i64..4).prop_map(|(sql, delta)| {
        let target = (MAX_QUERY_LEN as i64 + delta) as usize;
        let pad = target.saturating_sub(sql.len() + 1);
        format!("{sql}{};", " ".repeat(pad))
    })
}

fn sql() -> BoxedStrategy<String> {
    prop_oneof![
        6 => select(),
        3 => insert(),
        2 => delete(),
        2 => odd(),
        1 => huge(select()),
    ]
    .boxed()
}

fn double() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => -1000.0f64..1000.0,
        2 => any::<f64>(),
        2 => prop::sample::select(vec![
            1e40,
            -1e31,
            1e31,
            9.999e30,
            f64::NAN,
            -f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            0.125,
            2.675,
            f64::MIN_POSITIVE,
            f64::MAX,
        ]),
    ]
}

fn param() -> BoxedStrategy<Param> {
    prop_oneof![
        3 => any::<i64>().prop_map(Param::Int),
        1 => (-50i64..50).prop_map(Param::Int),
        3 => double().prop_map(Param::Double),
        2 => text_body().prop_map(|t| Param::Text(t.into_bytes())),
        1 => prop::collection::vec(any::<u8>(), 0..12).prop_map(Param::Text),
    ]
    .boxed()
}

/// Users, passwords and databases: right, wrong, long (the message is cut
/// inside a multi-byte character), holding a NUL, over the query limit.
fn credential(right: &'static str) -> BoxedStrategy<String> {
    prop_oneof![
        6 => Just(right.to_string()),
        1 => "[a-z]{0,8}",
        1 => (0usize..400).prop_map(|n| "é".repeat(n)),
        1 => (150usize..250).prop_map(|n| "€".repeat(n)),
        1 => prop::sample::select(vec!["la\0b", "\0", "lab\0"]).prop_map(str::to_string),
        1 => (MAX_QUERY_LEN - 1..MAX_QUERY_LEN + 2).prop_map(|n| "u".repeat(n)),
    ]
    .boxed()
}

fn op() -> BoxedStrategy<Op> {
    prop_oneof![
        1 => (credential("lab"), credential("lab"), credential("shop")).prop_map(
            |(user, password, database)| Op::Connect {
                user,
                password,
                database,
            }
        ),
        8 => sql().prop_map(Op::Execute),
        5 => (sql(), prop::collection::vec(param(), 0..5))
            .prop_map(|(sql, params)| Op::Prepared { sql, params }),
        1 => prop::collection::vec(any::<u8>(), 0..40).prop_map(Op::Escape),
        1 => Just(Op::Stat),
    ]
    .boxed()
}

/// The answers differ: `what` they were to, and both answers.
fn differ(what: &str, from_c: impl std::fmt::Debug, from_pure: impl std::fmt::Debug) -> String {
    let c = format!("{from_c:?}");
    let pure = format!("{from_pure:?}");
    let cut = |s: &str| s.chars().take(400).collect::<String>();
    format!("{what}:\n  C:    {}\n  pure: {}", cut(&c), cut(&pure))
}

/// Runs `ops` on a fresh pair of connections, comparing every answer.
fn run_case(ops: &[Op]) -> Result<(), String> {
    let mut c = Connection::open_default().map_err(|e| format!("C connects: {e}"))?;
    let mut pure = PureConnection::connect("localhost", "lab", "lab", "shop")
        .map_err(|e| format!("pure connects: {e}"))?;
    for (step, op) in ops.iter().enumerate() {
        let at = |what: &str| format!("step {step}, {what}");
        match op {
            Op::Connect {
                user,
                password,
                database,
            } => {
                let options = ConnectOptions {
                    user: user.clone(),
                    password: password.clone(),
                    database: database.clone(),
                    ..ConnectOptions::default()
                };
                let from_c = Connection::connect(&options);
                let from_pure = PureConnection::connect("localhost", user, password, database);
                match (from_c, from_pure) {
                    (Ok(new_c), Ok(new_pure)) => {
                        c = new_c;
                        pure = new_pure;
                    }
                    (Err(a), Err(b)) if a == b => {}
                    (a, b) => return Err(differ(&at("connect"), a.map(drop), b.map(drop))),
                }
            }
            Op::Execute(sql) => {
                let (a, b) = (c.execute(sql), pure.execute(sql));
                if a != b {
                    return Err(differ(&at("execute"), a, b));
                }
            }
            Op::Prepared { sql, params } => {
                let (a, b) = (c.expanded_sql(sql, params), pure.expanded_sql(sql, params));
                if a != b {
                    return Err(differ(&at("expanded_sql"), a, b));
                }
                let (a, b) = (
                    c.execute_prepared(sql, params),
                    pure.execute_prepared(sql, params),
                );
                if a != b {
                    return Err(differ(&at("execute_prepared"), a, b));
                }
            }
            Op::Escape(input) => {
                let (a, b) = (Backend::escape(&c, input), Backend::escape(&pure, input));
                if a != b {
                    return Err(differ(&at("escape"), a, b));
                }
            }
            Op::Stat => {
                let (a, b) = (c.stat(), pure.stat());
                if a != b {
                    return Err(differ(&at("stat"), a, b));
                }
            }
        }
    }
    let (a, b) = (c.stat(), pure.stat());
    if a != b {
        return Err(differ("stat at the end", a, b));
    }
    Ok(())
}

#[test]
fn c_and_pure_backends_agree_on_random_sequences() {
    let config = Config {
        cases: CASES,
        rng_algorithm: RngAlgorithm::ChaCha,
        failure_persistence: None,
        ..Config::default()
    };
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &SEED);
    let mut runner = TestRunner::new_with_rng(config, rng);
    let outcome = runner.run(&prop::collection::vec(op(), 1..20), |ops| {
        run_case(&ops).map_err(TestCaseError::fail)
    });
    if let Err(e) = outcome {
        panic!("the backends diverge: {e}");
    }
}

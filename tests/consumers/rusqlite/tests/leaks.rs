//! leaklab beside rusqlite 0.37 (libsqlite3-sys 0.35, SQLite bundled):
//! real rusqlite code measured per call, and a real leak shape whose size
//! is derived from SQLite's allocator and the SQL string.

use leaklab::check::{self, Side};
use rusqlite::Connection;

#[global_allocator]
static ALLOC: leaklab::Counting = leaklab::Counting::system();

/// A statement with no parameters: sqlite3_expanded_sql returns its text.
const SQL: &str = "SELECT 'leaklab', 42";

/// What an n-byte sqlite3_malloc asks malloc for, as libsqlite3-sys 0.35
/// compiles SQLite 3.50.2: its build script does not define
/// HAVE_MALLOC_USABLE_SIZE, so mem1.c's sqlite3MemMalloc keeps the size
/// in an 8-byte header in front of the block; and memory statistics are
/// on (SQLITE_DEFAULT_MEMSTATUS), so sqlite3Malloc first rounds n up to a
/// multiple of 8 (sqlite3MemRoundup).
fn sqlite3_malloc_block(n: usize) -> i64 {
    (n.next_multiple_of(8) + 8) as i64
}

/// sqlite3_expanded_sql of a statement without parameters
/// (sqlite3VdbeExpandSql, `nVar == 0`) appends the whole text once to an
/// empty string accumulator: one sqlite3_malloc of its length + 1 (the
/// NUL), returned unshrunk.
fn expanded_sql_block(sql: &str) -> i64 {
    sqlite3_malloc_block(sql.len() + 1)
}

#[leaklab::test]
fn open_prepare_and_query_in_memory_is_clean_per_call() {
    check::measure(20, || {
        let conn = Connection::open_in_memory().expect("opens");
        conn.execute_batch("CREATE TABLE t(x INTEGER); INSERT INTO t VALUES (1), (2), (39);")
            .expect("creates");
        let mut stmt = conn.prepare("SELECT sum(x) + ?1 FROM t").expect("prepares");
        let total: i64 = stmt.query_row([0], |row| row.get(0)).expect("queries");
        assert_eq!(total, 42);
    })
    .expect("counted")
    .assert_clean();
}

#[leaklab::test]
fn a_long_lived_connection_is_clean_per_query() {
    let conn = Connection::open_in_memory().expect("opens");
    conn.execute_batch("CREATE TABLE t(x TEXT)")
        .expect("creates");
    check::measure(50, || {
        conn.execute("INSERT INTO t VALUES (?1)", ["row"])
            .expect("inserts");
        let n: i64 = conn
            .query_row("SELECT count(*) FROM t WHERE x = ?1", ["row"], |row| {
                row.get(0)
            })
            .expect("counts");
        assert!(n > 0);
        conn.execute("DELETE FROM t", []).expect("deletes");
    })
    .expect("counted")
    .assert_clean();
}

#[leaklab::test]
fn the_raw_expanded_sql_without_sqlite3_free_keeps_its_text_every_call() {
    assert_eq!(SQL.len(), 20);
    assert_eq!(expanded_sql_block(SQL), 32); // ROUND8(21) + 8
    let conn = Connection::open_in_memory().expect("opens");
    let m = check::measure(50, || {
        assert_eq!(with_rusqlite::leaky::expanded_sql(&conn, SQL), SQL);
    })
    .expect("counted");
    m.assert_leaks(Side::C, 1, expanded_sql_block(SQL));
    m.assert_lost_at_most(Side::C, expanded_sql_block(SQL));
    let site = &m.sites[0];
    assert_eq!(site.side, Side::C, "{m}");
    assert!(
        site.frames[0].function.ends_with("raw_expanded_sql"),
        "the first frame is ours: {m}"
    );
}

#[leaklab::test]
fn the_fixed_expanded_sql_and_rusqlites_own_are_clean() {
    let conn = Connection::open_in_memory().expect("opens");
    check::measure(50, || {
        assert_eq!(with_rusqlite::fixed::expanded_sql(&conn, SQL), SQL);
    })
    .expect("counted")
    .assert_clean();
    check::measure(50, || {
        let mut stmt = conn.prepare("SELECT ?1 + 1").expect("prepares");
        stmt.raw_bind_parameter(1, 41).expect("binds");
        assert_eq!(stmt.expanded_sql().as_deref(), Some("SELECT 41 + 1"));
    })
    .expect("counted")
    .assert_clean();
}

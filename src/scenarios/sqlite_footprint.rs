//! Exact sizes of what the sqlite scenarios leak, derived from SQLite's
//! allocation rules, or, for SQLite's private structures, measured as a
//! footprint (never by running the leak and copying its size).
//!
//! The rules of SQLite's default allocator (mem1.c) as libsqlite3-sys
//! compiles the amalgamation it bundles (Cargo.toml): its flags set no
//! allocator (no SQLITE_SYSTEM_MALLOC override, SQLITE_ZERO_MALLOC or
//! SQLITE_ENABLE_MEMSYS*), leave SQLITE_DEFAULT_MEMSTATUS at 1, do not
//! enable SQLITE_ENABLE_MEMORY_MANAGEMENT, and do not define
//! HAVE_MALLOC_USABLE_SIZE, so mem1.c keeps the size itself. An n-byte
//! sqlite3_malloc asks that allocator for `xRoundup(n)` = n rounded up to 8
//! bytes (sqlite3MemRoundup, called because memory statistics are on), and
//! sqlite3MemMalloc calls `malloc` for 8 more bytes, where it keeps the
//! size in front of the block it returns. So an n-byte sqlite3_malloc is
//! one C block of ROUND8(n) + 8 bytes, as the interposer counts it, on
//! every machine (the rules are SQLite 3.54.1's, the bundled version; the
//! system's 3.40 follows the same ones).

use super::footprint::{block, calibrating, sum};
use crate::heap::Live;
use crate::sqlite::safe::{Database, Step};
use crate::sys::sqlite as sys;

/// SQLite's size header in front of each mem1.c block.
pub const MEM1_HEADER: usize = 8;

/// mem1.c's xRoundup: up to a multiple of 8.
pub fn xroundup(n: usize) -> usize {
    n.next_multiple_of(8)
}

/// One sqlite3_malloc of `n` bytes, as `malloc` sees it.
pub fn malloc(n: usize) -> Live {
    block(xroundup(n) + MEM1_HEADER)
}

/// sqlite3_exec's error message: a copy of the connection's message made
/// with sqlite3DbStrDup(0, ...), one sqlite3_malloc of its length + 1.
pub fn exec_message(message: &str) -> Live {
    malloc(message.len() + 1)
}

/// What sqlite3_expanded_sql appends, in order: the text before each
/// parameter, the parameter's value, and the text after the last one.
/// The model covers what the scenarios use: `?N` parameters bound to
/// integers (written in decimal), with no `?` elsewhere in the text.
fn expanded_pieces(sql: &str, params: &[i64]) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut rest = sql;
    while let Some(at) = rest.find('?') {
        let digits = rest[at + 1..]
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count();
        let index: usize = rest[at + 1..at + 1 + digits]
            .parse()
            .expect("the model covers ?N parameters only");
        pieces.push(rest[..at].to_owned());
        pieces.push(params[index - 1].to_string());
        rest = &rest[at + 1 + digits..];
    }
    if !rest.is_empty() {
        pieces.push(rest.to_owned());
    }
    pieces
}

/// The text sqlite3_expanded_sql returns for `sql` with `params` bound.
pub fn expanded_text(sql: &str, params: &[i64]) -> String {
    expanded_pieces(sql, params).concat()
}

/// The block holding that text. SQLite builds it in a string accumulator
/// that starts empty and, when appending N bytes to `len` used of `cap`
/// with `len + N >= cap` (room for the NUL), reallocates to
/// `2 * len + N + 1` bytes (sqlite3StrAccumEnlarge's exponential growth),
/// after which `cap` is the block's real size, `xRoundup` of that
/// (sqlite3DbMallocSize); the finished string is returned in that buffer,
/// unshrunk.
pub fn expanded_sql(sql: &str, params: &[i64]) -> Live {
    let (mut len, mut cap) = (0usize, 0usize);
    for piece in expanded_pieces(sql, params) {
        if len + piece.len() >= cap {
            cap = xroundup(2 * len + piece.len() + 1);
        }
        len += piece.len();
    }
    malloc(cap)
}

/// The parts of a connection lost with an unfinalized statement in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LostConnection {
    /// A fresh in-memory connection: sqlite3_open_v2's allocations.
    pub connection: Live,
    /// The statement, prepared and stepped to its first row, with what the
    /// connection allocates for it.
    pub statement: Live,
    /// What the refused sqlite3_close leaves: the connection's error value
    /// and its text ("unable to close due to unfinalized statements ...").
    pub refused_close: Live,
}

impl LostConnection {
    pub fn total(&self) -> Live {
        sum(&[self.connection, self.statement, self.refused_close])
    }
}

/// SQLite's connection and statement structures are private, so their
/// size is a footprint measurement: open a connection with the safe
/// binding, prepare and step `sql` in it, and try to close it while the
/// statement lives, reading the C counters after each step; then finalize
/// and close. One unmeasured round first takes SQLite's one-time global
/// allocations (its initialisation) out of the window; the count is this
/// thread's, so other threads' C allocations do not show up in it.
pub fn lost_connection(sql: &str) -> LostConnection {
    let _turn = calibrating();
    one_round(sql);
    one_round(sql)
}

fn one_round(sql: &str) -> LostConnection {
    let live = crate::heap::c::thread_live;
    let start = live();
    let db = Database::open_in_memory().expect("an in-memory database opens");
    let opened = live();
    let mut statement = db.prepare(sql).expect("the calibration SQL prepares");
    assert_eq!(statement.step().expect("a step"), Step::Row);
    let stepped = live();
    // SAFETY: a live handle owned by `db`; with `statement` unfinalized,
    // sqlite3_close refuses (SQLITE_BUSY, asserted) and the handle stays
    // open and owned by `db`.
    let code = unsafe { sys::sqlite3_close(db.raw()) };
    if code != sys::SQLITE_BUSY as i32 {
        // The handle is gone (or in an unknown state): never touch it again.
        std::mem::forget(statement);
        std::mem::forget(db);
        panic!("sqlite3_close with a live statement returned {code}, not SQLITE_BUSY");
    }
    let refused = live();
    drop(statement);
    drop(db);
    LostConnection {
        connection: opened.since(start),
        statement: stepped.since(opened),
        refused_close: refused.since(stepped),
    }
}

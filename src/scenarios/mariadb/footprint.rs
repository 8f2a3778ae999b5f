//! What libmariadb keeps for the objects the scenarios leak.
//!
//! Its structures' insides are private (a result holds its rows in
//! memory-root blocks), so most sizes are footprints: measured with the
//! safe binding, on this thread's C counters, after one unmeasured round
//! that takes the library's one-time allocations (its character sets, the
//! client plugins) out of the window. Never by running the leak and copying
//! its size. Where libmariadb's source fixes a size, it is derived instead.

use std::mem::size_of;

use crate::heap::Live;
use crate::heap::c::thread_live;
use crate::mariadb::server;
use crate::scenarios::footprint::{block, calibrating};
use crate::sys::mariadb as sys;

/// A result of `mysql_store_result` for `sql`, measured: held between the
/// store and `mysql_free_result`. libmariadb's mysql_store_result makes it
/// of the `MYSQL_RES` with one length per field (one block), its
/// `MYSQL_DATA`, and the memory roots its rows and field descriptions are
/// copied into.
pub fn stored_result(sql: &str) -> Live {
    let _turn = calibrating();
    let mut conn = super::connect().expect("a connection to the run's server");
    let mut round = || {
        let before = thread_live();
        let result = conn.query(sql).expect("the footprint query runs");
        let held = thread_live().since(before);
        drop(result);
        held
    };
    round();
    round()
}

/// `mysql_stmt_result_metadata`'s result, derived: libmariadb's
/// mariadb_stmt.c allocates `calloc(1, sizeof(MYSQL_RES))` and points it at
/// the statement's own field descriptions, so one block of the bound
/// struct's size, whatever the columns.
pub fn statement_metadata() -> Live {
    block(size_of::<sys::MYSQL_RES>())
}

/// A handle from `mysql_init(NULL)` after a `mysql_real_connect` that
/// failed, measured: the `MYSQL` (sizeof public, but the handle also
/// allocates its options and extension) up to its `mysql_close`.
pub fn failed_handle() -> Live {
    let _turn = calibrating();
    let absent = absent_socket();
    let round = || {
        let before = thread_live();
        // SAFETY: mysql_init(NULL) allocates a handle (asserted non-NULL);
        // the connect is refused (no socket there), the handle stays the
        // caller's and is closed once, after the count.
        unsafe {
            let handle = sys::mysql_init(std::ptr::null_mut());
            assert!(!handle.is_null(), "mysql_init");
            let socket = std::ffi::CString::new(absent.as_os_str().as_encoded_bytes())
                .expect("a socket path without NUL");
            let connected = sys::mysql_real_connect(
                handle,
                std::ptr::null(),
                c"root".as_ptr(),
                std::ptr::null(),
                std::ptr::null(),
                0,
                socket.as_ptr(),
                0,
            );
            assert!(
                connected.is_null(),
                "no server listens at {}",
                absent.display()
            );
            let held = thread_live().since(before);
            sys::mysql_close(handle);
            held
        }
    };
    round();
    round()
}

/// A socket path with no server behind it: beside the run's socket, in the
/// server's own temp directory, so nothing else is touched.
pub fn absent_socket() -> std::path::PathBuf {
    let socket = server::socket().expect("the run's server");
    socket.with_file_name("absent.sock")
}

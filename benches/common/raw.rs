//! The raw baseline: the minimal correct sequence of `leaklab_lab::sys` calls
//! for each operation, written the way a careful C caller would.

use std::ffi::CString;
use std::hint::black_box;

use leaklab_lab::sys;

use super::{GROW, INSERT, Opts, QUERY_ALL, fold};

/// init + connect + close. Builds the four C strings, as the safe side does.
#[inline(never)]
pub fn measured_connect_raw(o: &Opts) -> bool {
    let host = CString::new(o.host.as_str()).expect("no NUL");
    let user = CString::new(o.user.as_str()).expect("no NUL");
    let password = CString::new(o.password.as_str()).expect("no NUL");
    let database = CString::new(o.database.as_str()).expect("no NUL");
    // SAFETY: lc_init takes no arguments; the handle is checked for NULL,
    // used only while live, closed once; the strings outlive the call.
    unsafe {
        let handle = sys::lc_init();
        if handle.is_null() {
            return false;
        }
        let connected = !sys::lc_real_connect(
            handle,
            host.as_ptr(),
            user.as_ptr(),
            password.as_ptr(),
            database.as_ptr(),
            o.port,
        )
        .is_null();
        sys::lc_close(handle);
        connected
    }
}

/// lc_query + lc_store_result + lc_free_result, with the checks a caller
/// needs: the query's return code, and errno when no result comes back.
#[inline(never)]
pub fn measured_query_raw(handle: *mut sys::LC, sql: &str) -> u32 {
    let sql = CString::new(sql).expect("no NUL");
    // SAFETY: `handle` is live (the caller's); the result is freed once.
    unsafe {
        if sys::lc_query(handle, sql.as_ptr()) != 0 {
            return u32::MAX;
        }
        let result = sys::lc_store_result(handle);
        if result.is_null() {
            return sys::lc_errno(handle);
        }
        sys::lc_free_result(result);
    }
    1
}

/// One row: lc_fetch_row + lc_fetch_lengths, then value 0 read as bytes.
#[inline(never)]
pub fn measured_fetch_raw(result: *mut sys::LC_RES) -> usize {
    // SAFETY: `result` is live; after a non-NULL row, its lengths are
    // valid; the row has 3 columns (the query names them), a NULL value
    // is read as empty.
    unsafe {
        let row = sys::lc_fetch_row(result);
        if row.is_null() {
            return 0;
        }
        let lengths = sys::lc_fetch_lengths(result);
        if lengths.is_null() {
            return 0;
        }
        let value = *row;
        if value.is_null() {
            return fold(&[]);
        }
        fold(std::slice::from_raw_parts(value.cast(), *lengths as usize))
    }
}

/// One row read whole: lc_fetch_row + lc_fetch_lengths, then each of its
/// `width` values as bytes (`width` read once per result, with
/// lc_num_fields, as a raw caller that does not know the shape must).
#[inline(never)]
pub fn measured_fetch_row_raw(result: *mut sys::LC_RES, width: usize) -> usize {
    // SAFETY: `result` is live and its rows are `width` wide; after a
    // non-NULL row, its lengths are valid; a NULL value is read as empty.
    unsafe {
        let row = sys::lc_fetch_row(result);
        if row.is_null() {
            return 0;
        }
        let lengths = sys::lc_fetch_lengths(result);
        if lengths.is_null() {
            return 0;
        }
        let mut acc = 1;
        for i in 0..width {
            let value = *row.add(i);
            acc ^= if value.is_null() {
                fold(&[])
            } else {
                fold(std::slice::from_raw_parts(
                    value.cast(),
                    *lengths.add(i) as usize,
                ))
            };
        }
        acc
    }
}

/// lc_free_result alone.
#[inline(never)]
pub fn measured_free_raw(result: *mut sys::LC_RES) {
    // SAFETY: the caller hands over a result it owns; freed once here.
    unsafe { sys::lc_free_result(result) }
}

/// A connected handle, closed on drop (setup only, not measured).
pub struct Handle(pub *mut sys::LC);

impl Handle {
    pub fn open() -> Handle {
        let o = Opts::default();
        let c = |s: &str| CString::new(s).expect("no NUL");
        let (host, user, password, database) =
            (c(&o.host), c(&o.user), c(&o.password), c(&o.database));
        // SAFETY: as in measured_connect_raw; the handle is kept open.
        let handle = unsafe {
            let handle = sys::lc_init();
            assert!(!handle.is_null(), "lc_init");
            let ok = sys::lc_real_connect(
                handle,
                host.as_ptr(),
                user.as_ptr(),
                password.as_ptr(),
                database.as_ptr(),
                o.port,
            );
            assert!(!ok.is_null(), "lc_real_connect");
            handle
        };
        Handle(handle)
    }

    /// A handle whose table holds [`GROW`] more rows.
    pub fn grown() -> Handle {
        let h = Handle::open();
        for _ in 0..GROW {
            assert_eq!(measured_query_raw(h.0, INSERT), 0, "insert");
        }
        h
    }

    /// A stored result of `sql` (a SELECT), owned by the caller.
    pub fn store(&self, sql: &str) -> *mut sys::LC_RES {
        let sql = CString::new(sql).expect("no NUL");
        // SAFETY: live handle; a SELECT gives a non-NULL caller-owned result.
        unsafe {
            assert_eq!(sys::lc_query(self.0, sql.as_ptr()), 0, "lc_query");
            let result = sys::lc_store_result(self.0);
            assert!(!result.is_null(), "lc_store_result");
            result
        }
    }

    /// Rows of [`QUERY_ALL`] on this handle.
    pub fn all_rows(&self) -> u64 {
        let result = self.store(QUERY_ALL);
        // SAFETY: live result, freed once.
        unsafe {
            let rows = sys::lc_num_rows(result);
            sys::lc_free_result(result);
            rows
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: opened in `open`, closed once; no result outlives it.
        black_box(unsafe { sys::lc_close(self.0) });
    }
}

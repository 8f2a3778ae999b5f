//! A string SQLite allocated for the caller to release with sqlite3_free
//! (rusqlite's `SqliteMallocString`).

use std::ffi::CStr;
use std::ptr::NonNull;

use crate::sys::sqlite as sys;

/// An owned, NUL-terminated string from SQLite, freed on Drop.
pub struct SqliteString {
    ptr: NonNull<libc::c_char>,
}

impl SqliteString {
    /// Takes ownership of `ptr`; `None` if it is NULL.
    ///
    /// # Safety
    /// `ptr` must be NULL or a NUL-terminated string SQLite allocated for
    /// the caller to free with sqlite3_free, owned by nobody else.
    pub unsafe fn from_raw(ptr: *mut libc::c_char) -> Option<SqliteString> {
        NonNull::new(ptr).map(|ptr| SqliteString { ptr })
    }

    pub fn as_c_str(&self) -> &CStr {
        // SAFETY: a live NUL-terminated string owned by `self`.
        unsafe { CStr::from_ptr(self.ptr.as_ptr()) }
    }

    /// The text, with invalid UTF-8 replaced.
    pub fn to_string_lossy(&self) -> String {
        self.as_c_str().to_string_lossy().into_owned()
    }
}

impl Drop for SqliteString {
    fn drop(&mut self) {
        // SAFETY: allocated by SQLite for us to free, freed once here.
        unsafe { sys::sqlite3_free(self.ptr.as_ptr().cast()) }
    }
}

//! A string the C library allocated and the caller must release with
//! `lc_free` (as rusqlite's `SqliteMallocString`): owned, freed on Drop.

use std::ffi::CStr;
use std::ptr::NonNull;

use crate::connector::types::Error;
use crate::sys;

/// An owned, NUL-terminated string from `lc_stat` or `lc_stmt_expanded_sql`.
pub struct CString {
    ptr: NonNull<libc::c_char>,
}

impl CString {
    /// Takes ownership of `ptr`, or reports which function returned NULL.
    ///
    /// # Safety
    /// `ptr` must be NULL or a NUL-terminated string allocated by the
    /// connector for the caller to free with `lc_free`, owned by nobody else.
    pub(crate) unsafe fn from_raw(
        ptr: *mut libc::c_char,
        function: &'static str,
    ) -> Result<CString, Error> {
        NonNull::new(ptr)
            .map(|ptr| CString { ptr })
            .ok_or(Error::NullReturn { function })
    }

    pub fn as_c_str(&self) -> &CStr {
        // SAFETY: the pointer is a live NUL-terminated string owned by self.
        unsafe { CStr::from_ptr(self.ptr.as_ptr()) }
    }

    /// The text, or `Error::InvalidUtf8`.
    pub fn to_str(&self) -> Result<&str, Error> {
        self.as_c_str().to_str().map_err(|e| Error::InvalidUtf8 {
            valid_up_to: e.valid_up_to(),
        })
    }
}

impl Drop for CString {
    fn drop(&mut self) {
        // SAFETY: allocated by the connector for us to free, freed once here.
        unsafe { sys::lc_free(self.ptr.as_ptr().cast()) }
    }
}

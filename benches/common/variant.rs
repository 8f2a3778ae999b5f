//! Copies of the safe binding's code, so a proposed change can be measured
//! without editing src/connector: `copy` is the code as it is (it must
//! count the same instructions as the real thing, which checks the copy),
//! `cached` is the change.
//!
//! The change measured here: `QueryResult::fetch` calls `lc_num_fields`
//! on every row to fill `Row::count`; the count cannot change for the
//! life of a result, so read it once, when the result is taken over.

use std::marker::PhantomData;
use std::ptr::NonNull;

use leaklab::sys;

use super::fold;

/// `QueryResult` with the field count read once, in `from_raw`.
pub struct CachedResult {
    raw: NonNull<sys::LC_RES>,
    fields: usize,
}

/// `Row` as the safe binding has it.
pub struct Row<'res> {
    values: NonNull<*mut libc::c_char>,
    lengths: NonNull<libc::c_ulong>,
    count: usize,
    _result: PhantomData<&'res mut ()>,
}

impl CachedResult {
    /// Takes over `raw`, reading its field count once.
    ///
    /// # Safety
    /// `raw` must be a live result the caller owns and frees after this.
    pub unsafe fn new(raw: *mut sys::LC_RES) -> CachedResult {
        let raw = NonNull::new(raw).expect("a result");
        // SAFETY: live result per the caller; reads one field.
        let fields = unsafe { sys::lc_num_fields(raw.as_ptr()) } as usize;
        CachedResult { raw, fields }
    }

    /// `QueryResult::fetch` with `count: self.fields`.
    #[inline]
    pub fn fetch(&mut self) -> Option<Row<'_>> {
        // SAFETY: live result; C advances its cursor, NULL at the end.
        let values = NonNull::new(unsafe { sys::lc_fetch_row(self.raw.as_ptr()) })?;
        // SAFETY: after a successful fetch the lengths of that row are available.
        let lengths = NonNull::new(unsafe { sys::lc_fetch_lengths(self.raw.as_ptr()) })?;
        Some(Row {
            values,
            lengths,
            count: self.fields,
            _result: PhantomData,
        })
    }

    /// `QueryResult::fetch` as it is: `count` from `lc_num_fields` per row.
    #[inline]
    pub fn fetch_copy(&mut self) -> Option<Row<'_>> {
        // SAFETY: as `fetch`.
        let values = NonNull::new(unsafe { sys::lc_fetch_row(self.raw.as_ptr()) })?;
        // SAFETY: as `fetch`.
        let lengths = NonNull::new(unsafe { sys::lc_fetch_lengths(self.raw.as_ptr()) })?;
        // SAFETY: live result; reads one field.
        let count = unsafe { sys::lc_num_fields(self.raw.as_ptr()) } as usize;
        Some(Row {
            values,
            lengths,
            count,
            _result: PhantomData,
        })
    }
}

impl Row<'_> {
    /// `Row::get_bytes`, with `None` for the error.
    #[inline]
    pub fn get_bytes(&self, index: usize) -> Option<&[u8]> {
        if index >= self.count {
            return None;
        }
        // SAFETY: index < count; the row holds `count` values and lengths,
        // alive while the result's borrow lasts.
        unsafe {
            let value = *self.values.as_ptr().add(index);
            let length = *self.lengths.as_ptr().add(index) as usize;
            if value.is_null() {
                return Some(&[]);
            }
            Some(std::slice::from_raw_parts(value.cast(), length))
        }
    }
}

/// One row through the change.
#[inline(never)]
pub fn measured_fetch_cached(result: &mut CachedResult) -> usize {
    match result.fetch() {
        Some(row) => row.get_bytes(0).map_or(0, fold),
        None => 0,
    }
}

/// One row through the copy of the code as it is.
#[inline(never)]
pub fn measured_fetch_copy(result: &mut CachedResult) -> usize {
    match result.fetch_copy() {
        Some(row) => row.get_bytes(0).map_or(0, fold),
        None => 0,
    }
}

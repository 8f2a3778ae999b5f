//! `QueryResult` owns an `LC_RES`; `Row` borrows one row of it.

use std::borrow::Cow;
use std::marker::PhantomData;
use std::ptr::NonNull;

use crate::connector::types::{Error, Field, FieldType, Outcome};
use crate::sys;

/// A result set, freed with `lc_free_result` on Drop. It borrows the
/// connection (`'conn`) because its field names live in the handle.
pub struct QueryResult<'conn> {
    raw: NonNull<sys::LC_RES>,
    /// Read once: the width of every row (fixed for a result's life).
    fields: usize,
    affected_rows: u64,
    _conn: PhantomData<&'conn mut ()>,
}

impl QueryResult<'_> {
    /// Takes ownership of `raw`; NULL gives `None`.
    ///
    /// # Safety
    /// `raw` must be NULL or a result the caller owns (from `lc_store_result`,
    /// `lc_stmt_store_result` or `lc_stmt_result_metadata`), freed by nobody
    /// else, whose handle outlives the chosen lifetime.
    pub(crate) unsafe fn from_raw(raw: *mut sys::LC_RES, affected_rows: u64) -> Option<Self> {
        NonNull::new(raw).map(|raw| QueryResult {
            raw,
            // SAFETY: a live result per the caller; reads one field.
            fields: unsafe { sys::lc_num_fields(raw.as_ptr()) as usize },
            affected_rows,
            _conn: PhantomData,
        })
    }

    pub fn num_rows(&self) -> u64 {
        // SAFETY: live result; reads one field.
        unsafe { sys::lc_num_rows(self.raw.as_ptr()) }
    }

    pub fn num_fields(&self) -> usize {
        self.fields
    }

    /// Rows affected by the statement that produced this result.
    pub fn affected_rows(&self) -> u64 {
        self.affected_rows
    }

    /// Column `index`, copied out of the handle.
    pub fn field(&self, index: usize) -> Result<Field, Error> {
        let count = self.num_fields();
        let out_of_range = Error::ColumnOutOfRange { index, count };
        let index = u32::try_from(index).map_err(|_| out_of_range.clone())?;
        // SAFETY: live result; C checks the index and returns NULL past the end.
        let field = unsafe { sys::lc_fetch_field_direct(self.raw.as_ptr(), index) };
        // SAFETY: non-null fields point into the live result and handle.
        let field = unsafe { field.as_ref() }.ok_or(out_of_range)?;
        // SAFETY: the name is `name_length` bytes inside the live handle.
        let name = unsafe { bytes(field.name, field.name_length as usize) };
        Ok(Field {
            name: String::from_utf8_lossy(name).into_owned(),
            field_type: match field.type_ {
                sys::lc_field_type_LC_TYPE_INT => FieldType::Int,
                sys::lc_field_type_LC_TYPE_DOUBLE => FieldType::Double,
                _ => FieldType::Text,
            },
        })
    }

    pub fn fields(&self) -> Result<Vec<Field>, Error> {
        (0..self.num_fields()).map(|i| self.field(i)).collect()
    }

    /// The next row, valid until the next `fetch` (the borrow enforces it);
    /// `None` at the end, and again on every call after it. Inlined: the
    /// per-row cost is then the two C calls, as in hand-written C.
    #[inline]
    pub fn fetch(&mut self) -> Option<Row<'_>> {
        // SAFETY: live result; C advances its cursor and returns NULL at the end.
        let values = unsafe { sys::lc_fetch_row(self.raw.as_ptr()) };
        let values = NonNull::new(values)?;
        // SAFETY: after a successful fetch the lengths of that row are available.
        let lengths = NonNull::new(unsafe { sys::lc_fetch_lengths(self.raw.as_ptr()) })?;
        Some(Row {
            values,
            lengths,
            count: self.fields,
            _result: PhantomData,
        })
    }

    /// Every remaining row, copied, with the fields.
    pub fn collect(&mut self) -> Result<Outcome, Error> {
        let fields = self.fields()?;
        let mut rows = Vec::new();
        while let Some(row) = self.fetch() {
            rows.push(row.to_vec());
        }
        Ok(Outcome {
            fields,
            rows,
            affected_rows: self.affected_rows,
        })
    }
}

impl Drop for QueryResult<'_> {
    fn drop(&mut self) {
        // SAFETY: we own the result and free it exactly once.
        unsafe { sys::lc_free_result(self.raw.as_ptr()) }
    }
}

/// One row, borrowed from its result until the next fetch or the free.
pub struct Row<'res> {
    values: NonNull<*mut libc::c_char>,
    lengths: NonNull<libc::c_ulong>,
    count: usize,
    _result: PhantomData<&'res mut ()>,
}

impl Row<'_> {
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Value `index` as bytes (it may hold any byte, NUL included).
    #[inline]
    pub fn get_bytes(&self, index: usize) -> Result<&[u8], Error> {
        if index >= self.count {
            return Err(Error::ColumnOutOfRange {
                index,
                count: self.count,
            });
        }
        // SAFETY: index < count, and the row holds `count` pointers and
        // `count` lengths, alive while the result's borrow lasts.
        unsafe {
            let value = *self.values.as_ptr().add(index);
            let length = *self.lengths.as_ptr().add(index);
            Ok(bytes(value, length as usize))
        }
    }

    /// Every value of the row, in column order, as bytes. No index to
    /// check: the iterator stops at the row's width.
    #[inline]
    pub fn values(&self) -> impl Iterator<Item = &[u8]> + '_ {
        // SAFETY: i < count, and the row holds `count` pointers and `count`
        // lengths, alive while the result's borrow lasts.
        (0..self.count).map(move |i| unsafe {
            bytes(
                *self.values.as_ptr().add(i),
                *self.lengths.as_ptr().add(i) as usize,
            )
        })
    }

    /// Value `index` as UTF-8 text, or `Error::InvalidUtf8`.
    pub fn get_str(&self, index: usize) -> Result<&str, Error> {
        let value = self.get_bytes(index)?;
        std::str::from_utf8(value).map_err(|e| Error::InvalidUtf8 {
            valid_up_to: e.valid_up_to(),
        })
    }

    /// Value `index` as text, invalid UTF-8 replaced by U+FFFD.
    pub fn get_lossy(&self, index: usize) -> Result<Cow<'_, str>, Error> {
        Ok(String::from_utf8_lossy(self.get_bytes(index)?))
    }

    /// All values, copied.
    pub fn to_vec(&self) -> Vec<Vec<u8>> {
        self.values().map(<[u8]>::to_vec).collect()
    }
}

/// `length` bytes at `ptr` (NULL gives an empty slice).
///
/// # Safety
/// `ptr` must be NULL or valid for `length` bytes for the chosen lifetime.
pub(crate) unsafe fn bytes<'a>(ptr: *const libc::c_char, length: usize) -> &'a [u8] {
    if ptr.is_null() {
        return &[];
    }
    // SAFETY: valid for `length` bytes per the caller.
    unsafe { std::slice::from_raw_parts(ptr.cast(), length) }
}

impl std::fmt::Debug for QueryResult<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryResult")
            .field("rows", &self.num_rows())
            .field("fields", &self.num_fields())
            .finish()
    }
}

impl std::fmt::Debug for Row<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let values: Vec<Cow<'_, str>> = (0..self.count)
            .map(|i| self.get_lossy(i).unwrap_or_default())
            .collect();
        f.debug_tuple("Row").field(&values).finish()
    }
}

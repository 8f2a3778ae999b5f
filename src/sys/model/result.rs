//! `LC_RES` building, fetching and freeing (result.c), block for block:
//! one `LC_RES`, one fields array, one row-pointer array, one block per row
//! (value pointers, then lengths, then NUL-terminated values), and the
//! 32-byte DOUBLE formatting buffers that the compat switch leaks.

use std::mem::size_of;
use std::ptr::{self, NonNull};

use super::server::{self, Server};
use crate::api::{Field, FieldType, Outcome, code};
use crate::sql::Column;
use crate::sys::{
    LC, LC_DOUBLE_BUF_SIZE, LC_FIELD, LC_RES, LC_ROW, lc_field_type, lc_field_type_LC_TYPE_DOUBLE,
    lc_field_type_LC_TYPE_INT, lc_field_type_LC_TYPE_TEXT,
};
use leaklab::heap::modelled::{lab_calloc, lab_free, lab_malloc};

const DOUBLE_BUF: usize = LC_DOUBLE_BUF_SIZE as usize;

fn c_type(field_type: FieldType) -> lc_field_type {
    match field_type {
        FieldType::Text => lc_field_type_LC_TYPE_TEXT,
        FieldType::Int => lc_field_type_LC_TYPE_INT,
        FieldType::Double => lc_field_type_LC_TYPE_DOUBLE,
    }
}

/// A result without rows: the `LC_RES` and its fields, names pointing into
/// `server` (`lc_stmt_result_metadata`, and the start of every result).
/// NULL when out of memory.
///
/// # Safety
/// `server` must be a live server.
pub(super) unsafe fn metadata(server: *const Server, fields: &[Field]) -> *mut LC_RES {
    let res = lab_malloc(size_of::<LC_RES>()).cast::<LC_RES>();
    if res.is_null() {
        return res;
    }
    let fields_block = lab_malloc(fields.len() * size_of::<LC_FIELD>()).cast::<LC_FIELD>();
    if fields_block.is_null() {
        // SAFETY: the block just allocated, unused.
        unsafe { lab_free(res.cast()) };
        return ptr::null_mut();
    }
    for (i, field) in fields.iter().enumerate() {
        let column = Column::by_name(field.name.as_bytes()).unwrap_or(Column::Name);
        // SAFETY: `fields_block` holds `fields.len()` LC_FIELDs (aligned:
        // blocks are 16-aligned); `server` is live per the caller.
        unsafe {
            fields_block.add(i).write(LC_FIELD {
                name: server::name_ptr(server, column),
                name_length: field.name.len() as libc::c_ulong,
                type_: c_type(field.field_type),
            })
        };
    }
    // SAFETY: a fresh block of sizeof(LC_RES) bytes, 16-aligned.
    unsafe {
        res.write(LC_RES {
            row_count: 0,
            field_count: fields.len() as libc::c_uint,
            fields: fields_block,
            rows: ptr::null_mut(),
            cursor: 0,
            current_lengths: ptr::null_mut(),
        })
    };
    res
}

/// Frees the DOUBLE buffers, unless BUG#29909157 is being reproduced.
///
/// # Safety
/// Every pointer must be NULL or a live block of the model's allocator.
unsafe fn drop_buffers(buffers: &[*mut u8], leak: bool) {
    if leak {
        return;
    }
    for &buffer in buffers {
        // SAFETY: per the caller.
        unsafe { lab_free(buffer.cast()) };
    }
}

/// One row block; NULL when out of memory (nothing kept but what the compat
/// switch leaks). DOUBLE text goes through a 32-byte buffer first, as C's
/// `snprintf`, so it is cut to 31 bytes.
fn build_row(values: &[Vec<u8>], fields: &[Field], leak: bool) -> LC_ROW {
    let n = values.len();
    let mut buffers: Vec<*mut u8> = Vec::new();
    let mut sources: Vec<(*const u8, usize)> = Vec::with_capacity(n);
    for (value, field) in values.iter().zip(fields) {
        if field.field_type != FieldType::Double {
            sources.push((value.as_ptr(), value.len()));
            continue;
        }
        let buffer = lab_malloc(DOUBLE_BUF).cast::<u8>();
        if buffer.is_null() {
            // SAFETY: every buffer is a live model block.
            unsafe { drop_buffers(&buffers, leak) };
            return ptr::null_mut();
        }
        let len = value.len().min(DOUBLE_BUF - 1);
        // SAFETY: the buffer holds DOUBLE_BUF > len bytes; a fresh block
        // never overlaps `value`.
        unsafe {
            ptr::copy_nonoverlapping(value.as_ptr(), buffer, len);
            buffer.add(len).write(0);
        }
        buffers.push(buffer);
        sources.push((buffer, len));
    }
    let header = n * (size_of::<*mut libc::c_char>() + size_of::<libc::c_ulong>());
    let total = header + sources.iter().map(|&(_, len)| len + 1).sum::<usize>();
    let block = lab_malloc(total).cast::<u8>();
    if !block.is_null() {
        // SAFETY: `block` holds `total` bytes: n pointers, n lengths (both
        // 8-aligned as the block is), then every value and its NUL; each
        // source is valid for its length and distinct from the fresh block.
        unsafe {
            let pointers = block.cast::<*mut libc::c_char>();
            let lengths = block
                .add(n * size_of::<*mut libc::c_char>())
                .cast::<libc::c_ulong>();
            let mut data = block.add(header);
            for (i, &(source, len)) in sources.iter().enumerate() {
                pointers.add(i).write(data.cast());
                lengths.add(i).write(len as libc::c_ulong);
                ptr::copy_nonoverlapping(source, data, len);
                data.add(len).write(0);
                data = data.add(len + 1);
            }
        }
    }
    // SAFETY: every buffer is a live model block, no longer read.
    unsafe { drop_buffers(&buffers, leak) };
    block.cast()
}

/// Builds the result of `outcome` for `handle`, calling the handle's row
/// callback after each row when `with_callback`. On failure nothing stays
/// allocated (but the compat leak) and the error code comes back:
/// out of memory, or 1317 when the callback asked to stop.
///
/// # Safety
/// `handle` must be a live, connected handle. The handle is only reached
/// through its raw pointer, as the callback may call back into it.
pub(super) unsafe fn build(
    handle: *mut LC,
    outcome: &Outcome,
    with_callback: bool,
) -> Result<NonNull<LC_RES>, u32> {
    // SAFETY: live, connected handle per the caller.
    let res = unsafe { metadata(server::of(handle), &outcome.fields) };
    let res = NonNull::new(res).ok_or(code::OUT_OF_MEMORY)?;
    let res = res.as_ptr();
    let count = outcome.rows.len();
    let n = outcome.fields.len();
    if count > 0 {
        let rows = lab_calloc(count, size_of::<LC_ROW>()).cast::<LC_ROW>();
        // SAFETY: `res` is ours; on failure it is freed once.
        unsafe {
            if rows.is_null() {
                lc_free_result(res);
                return Err(code::OUT_OF_MEMORY);
            }
            // Unbuilt entries stay NULL for lc_free_result.
            (*res).rows = rows;
            (*res).row_count = count as u64;
        }
    }
    for (r, values) in outcome.rows.iter().enumerate() {
        // SAFETY: live handle; the flag is read per row, as C does.
        let leak = unsafe { (*handle).compat_float_leak } != 0;
        let row = build_row(values, &outcome.fields, leak);
        // SAFETY: `res` is ours with `count` row slots; the callback gets
        // the row and its lengths (right after the n pointers), both alive
        // for the call; on any failure `res` is freed once.
        unsafe {
            if row.is_null() {
                lc_free_result(res);
                return Err(code::OUT_OF_MEMORY);
            }
            (*res).rows.add(r).write(row);
            let callback = if with_callback {
                (*handle).row_callback
            } else {
                None
            };
            if let Some(callback) = callback {
                let data = (*handle).row_callback_data;
                let lengths = row.add(n).cast::<libc::c_ulong>().cast_const();
                if callback(data, n as libc::c_uint, row, lengths) != 0 {
                    lc_free_result(res);
                    return Err(code::QUERY_INTERRUPTED);
                }
            }
        }
    }
    // SAFETY: non-null: it came from a NonNull above.
    Ok(unsafe { NonNull::new_unchecked(res) })
}

/// # Safety
/// `result` must be NULL or a live result from this model, not used after.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lc_free_result(result: *mut LC_RES) {
    if result.is_null() {
        return;
    }
    // SAFETY: a live result: `rows` is NULL or holds `row_count` entries,
    // each NULL or a row block; every block is the model's, freed once.
    unsafe {
        let rows = (*result).rows;
        if !rows.is_null() {
            for r in 0..(*result).row_count as usize {
                lab_free(rows.add(r).read().cast());
            }
        }
        lab_free(rows.cast());
        lab_free((*result).fields.cast());
        lab_free(result.cast());
    }
}

/// # Safety
/// `result` must be NULL or a live result.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lc_fetch_row(result: *mut LC_RES) -> LC_ROW {
    if result.is_null() {
        return ptr::null_mut();
    }
    // SAFETY: a live result; the cursor indexes `rows` only below row_count.
    unsafe {
        if (*result).cursor >= (*result).row_count || (*result).rows.is_null() {
            (*result).current_lengths = ptr::null_mut();
            return ptr::null_mut();
        }
        let row = (*result).rows.add((*result).cursor as usize).read();
        (*result).cursor += 1;
        (*result).current_lengths = row.add((*result).field_count as usize).cast();
        row
    }
}

/// # Safety
/// `result` must be NULL or a live result.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lc_fetch_lengths(result: *mut LC_RES) -> *mut libc::c_ulong {
    if result.is_null() {
        return ptr::null_mut();
    }
    // SAFETY: a live result.
    unsafe { (*result).current_lengths }
}

/// # Safety
/// `result` must be NULL or a live result.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lc_num_rows(result: *const LC_RES) -> u64 {
    if result.is_null() {
        return 0;
    }
    // SAFETY: a live result.
    unsafe { (*result).row_count }
}

/// # Safety
/// `result` must be NULL or a live result.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lc_num_fields(result: *const LC_RES) -> libc::c_uint {
    if result.is_null() {
        return 0;
    }
    // SAFETY: a live result.
    unsafe { (*result).field_count }
}

/// # Safety
/// `result` must be NULL or a live result.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lc_fetch_field_direct(
    result: *const LC_RES,
    index: libc::c_uint,
) -> *const LC_FIELD {
    // SAFETY: a live result; `fields` holds `field_count` entries.
    unsafe {
        if result.is_null() || index >= (*result).field_count {
            return ptr::null();
        }
        (*result).fields.add(index as usize)
    }
}

//! The row callback: a boxed Rust closure behind C's `void *user_data`.
//! A panic in it is caught in the trampoline (unwinding into C is undefined
//! behaviour), C is told to stop, and the panic comes back as an error after
//! C returns (the git2 `panic.rs` approach).

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::NonNull;

use super::result::bytes;
use crate::connector::types::Error;
use crate::sys;

type RowFn = dyn FnMut(&CallbackRow<'_>) -> bool + Send;

/// What C's `user_data` points at. Owned by the `Connection` (through a
/// [`SlotOwner`]), never by C.
pub struct CallbackSlot {
    callback: Box<RowFn>,
    panic: Option<Box<dyn Any + Send>>,
}

impl CallbackSlot {
    /// The panic caught during the last C call, as an error.
    fn take_panic(&mut self) -> Option<Error> {
        self.panic.take().map(|payload| Error::CallbackPanicked {
            message: leaklab::check::panic_text(payload.as_ref()).to_owned(),
        })
    }

    /// Called by C once per stored row.
    ///
    /// # Safety
    /// `user_data` must be the pointer from [`SlotOwner::user_data`] of a
    /// live owner; `row` and `lengths` must hold `field_count` entries valid
    /// for the duration of the call.
    pub(crate) unsafe extern "C" fn trampoline(
        user_data: *mut libc::c_void,
        field_count: libc::c_uint,
        row: sys::LC_ROW,
        lengths: *const libc::c_ulong,
    ) -> libc::c_int {
        // SAFETY: C hands back the pointer we registered; the slot is alive
        // and nothing else borrows it while C runs the query.
        let slot = unsafe { &mut *user_data.cast::<CallbackSlot>() };
        if slot.panic.is_some() {
            return 1;
        }
        let view = CallbackRow {
            values: row,
            lengths,
            count: field_count as usize,
            _row: std::marker::PhantomData,
        };
        match catch_unwind(AssertUnwindSafe(|| (slot.callback)(&view))) {
            Ok(true) => 0,
            Ok(false) => 1,
            Err(payload) => {
                slot.panic = Some(payload);
                1
            }
        }
    }
}

/// Owns a [`CallbackSlot`] through a raw pointer, not a `Box`, because C
/// keeps a copy of the pointer: moving a `Box` (into `Connection.callback`,
/// or the `Connection` itself) asserts unique access to the slot, which
/// invalidates every other pointer to it, so C's copy would be dangling in
/// the aliasing model. Miri reported exactly that (Stacked Borrows: "tag
/// does not exist in the borrow stack", retag in `trampoline`). A raw
/// pointer is never retagged on a move.
pub(crate) struct SlotOwner {
    slot: NonNull<CallbackSlot>,
}

impl SlotOwner {
    pub(crate) fn new(callback: Box<RowFn>) -> SlotOwner {
        let slot = Box::new(CallbackSlot {
            callback,
            panic: None,
        });
        // SAFETY: Box::into_raw never returns NULL.
        let slot = unsafe { NonNull::new_unchecked(Box::into_raw(slot)) };
        SlotOwner { slot }
    }

    /// The pointer C keeps; valid while the owner lives.
    pub(crate) fn user_data(&self) -> *mut libc::c_void {
        self.slot.as_ptr().cast()
    }

    /// The panic caught during the last C call, as an error.
    pub(crate) fn take_panic(&mut self) -> Option<Error> {
        // SAFETY: the slot lives until Drop; C is not running the
        // callback (this is called after the C call returned), so this
        // is the only access.
        unsafe { (*self.slot.as_ptr()).take_panic() }
    }
}

impl Drop for SlotOwner {
    fn drop(&mut self) {
        // SAFETY: the pointer came from Box::into_raw in SlotOwner::new
        // and is rebuilt once, here; the caller unregistered it from C or
        // closed the handle first.
        drop(unsafe { Box::from_raw(self.slot.as_ptr()) });
    }
}

/// The row a callback sees, borrowed for the call only.
pub struct CallbackRow<'a> {
    values: sys::LC_ROW,
    lengths: *const libc::c_ulong,
    count: usize,
    _row: std::marker::PhantomData<&'a ()>,
}

impl CallbackRow<'_> {
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Value `index` as bytes; `None` past the end.
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        if index >= self.count {
            return None;
        }
        // SAFETY: index < count; C keeps row and lengths alive for the call.
        unsafe {
            let value = *self.values.add(index);
            Some(bytes(value, *self.lengths.add(index) as usize))
        }
    }
}

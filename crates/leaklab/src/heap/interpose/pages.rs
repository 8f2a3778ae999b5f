//! Page facts the shim reports about its own memory: what of a mapping of
//! its own is resident, so that `leaklab watch` subtracts from a program's
//! RSS only what the shim's memory really takes (a table mapped but barely
//! touched takes a few pages, not its size).

use std::ffi::c_void;

/// The system's page size.
pub fn size() -> usize {
    // SAFETY: sysconf has no preconditions.
    usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096)
}

/// Resident bytes of `len` bytes mapped at `addr` (page-aligned), read
/// with `mincore` through a buffer on the stack (no allocation). A range
/// `mincore` refuses (unmapped meanwhile) counts as not resident.
pub fn resident(addr: *mut c_void, len: usize) -> usize {
    let page = size();
    let mut pages = [0u8; 1024];
    let mut resident = 0;
    let mut offset = 0;
    while offset < len {
        let chunk = (len - offset).min(pages.len() * page);
        // SAFETY: mincore reads no memory of the range, only its page
        // table; `pages` holds a byte for each of its at most 1024 pages.
        let ok = unsafe {
            libc::mincore(
                addr.cast::<u8>().wrapping_add(offset).cast(),
                chunk,
                pages.as_mut_ptr(),
            ) == 0
        };
        if ok {
            let n = chunk.div_ceil(page);
            resident += pages[..n].iter().filter(|&&p| p & 1 != 0).count() * page;
        }
        offset += chunk;
    }
    resident
}

//! A small binding to the system's libbz2, the way a user of leaklab would
//! write one: one function, `compress`, twice. [`leaky::compress`] forgets
//! to end the stream; [`fixed::compress`] ends it on every path. The tests
//! in `tests/leaks.rs` check both with `leaklab::check`.

use std::os::raw::{c_char, c_int, c_uint, c_void};

/// `bz_stream` from bzlib.h.
#[repr(C)]
struct BzStream {
    next_in: *mut c_char,
    avail_in: c_uint,
    total_in_lo32: c_uint,
    total_in_hi32: c_uint,
    next_out: *mut c_char,
    avail_out: c_uint,
    total_out_lo32: c_uint,
    total_out_hi32: c_uint,
    state: *mut c_void,
    bzalloc: Option<unsafe extern "C" fn(*mut c_void, c_int, c_int) -> *mut c_void>,
    bzfree: Option<unsafe extern "C" fn(*mut c_void, *mut c_void)>,
    opaque: *mut c_void,
}

const BZ_FINISH: c_int = 2;
const BZ_OK: c_int = 0;
const BZ_STREAM_END: c_int = 4;

unsafe extern "C" {
    fn BZ2_bzCompressInit(
        strm: *mut BzStream,
        block_size_100k: c_int,
        verbosity: c_int,
        work_factor: c_int,
    ) -> c_int;
    fn BZ2_bzCompress(strm: *mut BzStream, action: c_int) -> c_int;
    fn BZ2_bzCompressEnd(strm: *mut BzStream) -> c_int;
}

/// Why compression failed: bzlib's return code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BzError(pub i32);

fn new_stream() -> BzStream {
    BzStream {
        next_in: std::ptr::null_mut(),
        avail_in: 0,
        total_in_lo32: 0,
        total_in_hi32: 0,
        next_out: std::ptr::null_mut(),
        avail_out: 0,
        total_out_lo32: 0,
        total_out_hi32: 0,
        state: std::ptr::null_mut(),
        // NULL: bzlib's default allocator, malloc and free.
        bzalloc: None,
        bzfree: None,
        opaque: std::ptr::null_mut(),
    }
}

/// Initialises `strm` for `block_size` (1..=9, in 100 kB).
fn init(strm: &mut BzStream, block_size: i32) -> Result<(), BzError> {
    // SAFETY: a zeroed stream with the default allocator; it stays at this
    // address (bzlib keeps a pointer back to it) until ended.
    match unsafe { BZ2_bzCompressInit(strm, block_size, 0, 0) } {
        BZ_OK => Ok(()),
        code => Err(BzError(code)),
    }
}

/// Compresses all of `data` through an initialised `strm`.
fn run(strm: &mut BzStream, data: &[u8]) -> Result<Vec<u8>, BzError> {
    let mut out = vec![0u8; data.len() + data.len() / 100 + 600];
    strm.next_in = data.as_ptr().cast_mut().cast();
    strm.avail_in = data.len() as c_uint;
    strm.next_out = out.as_mut_ptr().cast();
    strm.avail_out = out.len() as c_uint;
    // SAFETY: an initialised stream whose buffers are valid for the lengths
    // given until the call returns; the output bound is bzlib's documented
    // worst case (1% + 600 bytes).
    let code = unsafe { BZ2_bzCompress(strm, BZ_FINISH) };
    if code != BZ_STREAM_END {
        return Err(BzError(code));
    }
    out.truncate(out.len() - strm.avail_out as usize);
    Ok(out)
}

/// The mistake: the stream is never ended, so bzlib's state and its three
/// sorting arrays stay allocated after every call.
pub mod leaky {
    use super::*;

    pub fn compress(data: &[u8], block_size: i32) -> Result<Vec<u8>, BzError> {
        let mut strm = new_stream();
        init(&mut strm, block_size)?;
        run(&mut strm, data)
    }
}

/// The fix: `BZ2_bzCompressEnd` runs whether compression worked or not.
pub mod fixed {
    use super::*;

    pub fn compress(data: &[u8], block_size: i32) -> Result<Vec<u8>, BzError> {
        let mut strm = new_stream();
        init(&mut strm, block_size)?;
        let out = run(&mut strm, data);
        // SAFETY: initialised above, ended exactly once.
        unsafe { BZ2_bzCompressEnd(&mut strm) };
        out
    }
}

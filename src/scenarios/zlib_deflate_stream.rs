//! zlib-deflate-stream: a deflate stream initialised and never ended.
//!
//! The system's zlib, which has no allocator hook of its own: its blocks
//! are counted at the process's C allocator. The binding is here, beside
//! the scenario: the leaky `Deflater` has no `Drop`, the safe one calls
//! `deflateEnd` in its `Drop`.

use super::code::{Code, Item};
use super::footprint::{block, sum};
use super::{BackendChoice, Expected, Iteration, Origin, Scenario, Variant};
use crate::heap::Live;
use crate::sys::zlib as sys;

pub static SCENARIO: Scenario = Scenario {
    id: "zlib-deflate-stream",
    title: "zlib deflate stream never ended",
    origin: Origin {
        source: "rust-binding",
        reference: "zlib manual: deflateEnd 'frees all dynamically allocated data structures for \
                    this stream'; rust-openssl #1475 (a type with no Drop at all)",
    },
    pattern: "the deflate stream's owner has no Drop, so deflateEnd never runs and zlib's window, hash chains and state stay allocated",
    fix: "give the owner a Drop that calls deflateEnd",
    library: "zlib",
    leaky,
    safe,
    safe_backend: BackendChoice::C,
    pure_capable: false,
    expected,
    // 268 KiB a leaky iteration: 2000 iterations keep 0.5 GiB, under the
    // default 1 GiB cap.
    iteration_budget: Some(2000),
    source_file: "src/scenarios/zlib_deflate_stream.rs",
    source: include_str!("zlib_deflate_stream.rs"),
    code: Code {
        leaky: &[Item::here("mod leaky {")],
        safe: &[Item::here("mod safe {")],
    },
};

/// zlib's defaults, what a binding passes when asked for nothing special.
const WINDOW_BITS: i32 = 15;
const MEM_LEVEL: i32 = 8;
const INPUT: &[u8] = b"alice,34,81.50|bob,27,64.25|carol,45,92.75|dave,19,55.00|eve,38,73.10";

/// The shared half: a `z_stream` that zlib has initialised. Boxed, because
/// zlib keeps a pointer back to it (and refuses a stream that moved).
struct Stream(Box<sys::z_stream>);

impl Stream {
    fn new(window_bits: i32, mem_level: i32) -> Result<Stream, String> {
        // SAFETY: z_stream is a C struct of pointers and integers, for which
        // all zeroes is the documented "use the default allocator" state.
        let mut stream: Box<sys::z_stream> = Box::new(unsafe { std::mem::zeroed() });
        // deflateInit2 is a macro over deflateInit2_, which checks that the
        // caller was built against this zlib's version and z_stream size.
        // SAFETY: a zeroed, boxed stream; the version string is zlib's own.
        let code = unsafe {
            sys::deflateInit2_(
                &mut *stream,
                sys::Z_DEFAULT_COMPRESSION,
                sys::Z_DEFLATED as i32,
                window_bits,
                mem_level,
                sys::Z_DEFAULT_STRATEGY as i32,
                sys::zlibVersion(),
                size_of::<sys::z_stream>() as i32,
            )
        };
        if code != sys::Z_OK as i32 {
            return Err(format!("deflateInit2 failed: {code}"));
        }
        Ok(Stream(stream))
    }

    /// Compresses `input` in one call: the size of the compressed data.
    fn compress(&mut self, input: &[u8]) -> Result<usize, String> {
        let mut output = vec![0u8; 1024];
        let s = &mut *self.0;
        s.next_in = input.as_ptr().cast_mut();
        s.avail_in = input.len() as u32;
        s.next_out = output.as_mut_ptr();
        s.avail_out = output.len() as u32;
        // SAFETY: an initialised stream whose buffers are valid for the
        // lengths given and live until deflate returns.
        let code = unsafe { sys::deflate(s, sys::Z_FINISH as i32) };
        s.next_in = std::ptr::null_mut();
        s.next_out = std::ptr::null_mut();
        if code != sys::Z_STREAM_END as i32 {
            return Err(format!("deflate did not finish: {code}"));
        }
        Ok(output.len() - s.avail_out as usize)
    }
}

/// The mistake: an owner with no Drop.
mod leaky {
    pub struct Deflater(pub super::Stream);
}

/// The fix: Drop ends the stream.
mod safe {
    pub struct Deflater(pub super::Stream);

    impl Drop for Deflater {
        fn drop(&mut self) {
            // SAFETY: an initialised stream, ended exactly once, here.
            unsafe { super::sys::deflateEnd(&mut *(self.0).0) };
        }
    }
}

fn leaky(_: BackendChoice) -> Result<Iteration, String> {
    Ok(Box::new(|| {
        let mut deflater = leaky::Deflater(Stream::new(WINDOW_BITS, MEM_LEVEL)?);
        std::hint::black_box(deflater.0.compress(INPUT)?);
        Ok(())
    }))
}

fn safe(_: BackendChoice) -> Result<Iteration, String> {
    Ok(Box::new(|| {
        let mut deflater = safe::Deflater(Stream::new(WINDOW_BITS, MEM_LEVEL)?);
        std::hint::black_box(deflater.0.compress(INPUT)?);
        Ok(())
    }))
}

/// zlib's documented deflate memory (zconf.h): the window and its hash
/// chains, `1 << (windowBits + 2)` bytes in two blocks, and the hash heads
/// and pending buffer, `1 << (memLevel + 9)` bytes in two blocks.
pub fn documented_buffers(window_bits: i32, mem_level: i32) -> Live {
    sum(&[
        block(1 << (window_bits + 1)),
        block(1 << (window_bits + 1)),
        block(1 << (mem_level + 8)),
        block(1 << (mem_level + 8)),
    ])
}

/// zlib's private `deflate_state`, one more block: a footprint measured at
/// other parameters than the scenario's (the smallest zlib allows) by
/// initialising a stream and taking the documented buffers away.
pub fn state_footprint() -> Live {
    let (window_bits, mem_level) = (9, 1);
    let _turn = super::footprint::calibrating();
    let before = crate::heap::c::thread_live();
    let stream = safe::Deflater(Stream::new(window_bits, mem_level).expect("deflateInit2"));
    let live = crate::heap::c::thread_live().since(before);
    drop(stream);
    let buffers = documented_buffers(window_bits, mem_level);
    live.since(buffers)
}

fn expected(variant: Variant, _: BackendChoice) -> Expected {
    match variant {
        Variant::Leaky => Expected::c_lost(sum(&[
            documented_buffers(WINDOW_BITS, MEM_LEVEL),
            state_footprint(),
        ])),
        Variant::Safe => Expected::CLEAN,
    }
}

//! Return addresses of the calling thread's stack, from inside the
//! allocator: the unwinder every Rust program on glibc Linux already links
//! (libgcc's `_Unwind_Backtrace`, the one std's panics use), called
//! directly, so the stack capture needs no crate and allocates nothing of
//! ours. The first walk in a process may let the unwinder register the
//! loaded objects' unwind tables, which allocates through glibc: the
//! recorder marks itself busy around the walk, so those blocks are not
//! recorded.

use std::ffi::{c_int, c_void};

/// libgcc's opaque unwind context.
#[repr(C)]
struct Context {
    _opaque: [u8; 0],
}

/// `_URC_NO_REASON`: go on to the next frame.
const CONTINUE: c_int = 0;
/// `_URC_NORMAL_STOP`: the walk is over.
const STOP: c_int = 4;

type Trace = extern "C" fn(*mut Context, *mut c_void) -> c_int;

unsafe extern "C" {
    fn _Unwind_Backtrace(trace: Trace, arg: *mut c_void) -> c_int;
    fn _Unwind_GetIP(context: *mut Context) -> usize;
    fn _Unwind_GetCFA(context: *mut Context) -> usize;
}

/// Where a walk writes its addresses.
struct Out<'a> {
    frames: &'a mut [usize],
    depth: usize,
    /// Frames whose canonical frame address is at or below this stack
    /// address are skipped (0: none).
    below: usize,
}

extern "C" fn each(context: *mut Context, arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the `Out` that `trace` passed, alive for the walk.
    let out = unsafe { &mut *arg.cast::<Out<'_>>() };
    if out.depth == out.frames.len() {
        return STOP;
    }
    // SAFETY: as below.
    if out.below != 0 && unsafe { _Unwind_GetCFA(context) } <= out.below {
        return CONTINUE;
    }
    // SAFETY: `context` is the unwinder's, valid during this callback.
    let ip = unsafe { _Unwind_GetIP(context) };
    if ip == 0 {
        return STOP;
    }
    out.frames[out.depth] = ip;
    out.depth += 1;
    CONTINUE
}

/// Fills `frames` with the calling thread's return addresses, innermost
/// first (this function's own frame too), and returns how many it wrote.
#[inline(never)]
pub fn trace(frames: &mut [usize]) -> usize {
    walk(frames, 0)
}

/// [`trace`] from the caller of the function whose frame holds `bound`, a
/// stack address: that function's frame and those of everything it called
/// are left out. (The unwinder's frame address for a frame is its stack
/// pointer, below its locals: the first frame found above `bound` is the
/// caller's.)
#[inline(never)]
pub fn trace_above(frames: &mut [usize], bound: usize) -> usize {
    walk(frames, bound)
}

/// Inlined, so that the first frame of a walk is its caller's (`trace`'s).
#[inline(always)]
fn walk(frames: &mut [usize], below: usize) -> usize {
    let mut out = Out {
        frames,
        depth: 0,
        below,
    };
    // SAFETY: `each` matches the unwinder's callback type and reads `arg`
    // as the `Out` given here, which outlives the walk.
    unsafe { _Unwind_Backtrace(each, (&mut out as *mut Out<'_>).cast()) };
    out.depth
}

#[cfg(test)]
mod tests {
    #[inline(never)]
    fn depth_here() -> usize {
        super::trace(&mut [0usize; 64])
    }

    #[test]
    fn a_walk_sees_its_callers_and_stops_at_the_buffer() {
        let mut frames = [0usize; 64];
        let depth = super::trace(&mut frames);
        assert!(depth > 3, "{depth} frames");
        assert!(frames[..depth].iter().all(|&ip| ip != 0));
        // One call deeper, one frame more.
        assert_eq!(depth_here(), depth + 1);
        assert_eq!(super::trace(&mut [0usize; 2]), 2);
    }

    #[inline(never)]
    fn inner_above(bound: usize) -> (usize, usize) {
        let mut frames = [0usize; 64];
        let depth = super::trace_above(&mut frames, bound);
        (frames[0], depth)
    }

    /// The first frame and depth of a walk above a marker in this frame,
    /// and a whole walk from here.
    #[inline(never)]
    fn outer_with_marker() -> (usize, usize, [usize; 64], usize) {
        let marker = 0u8;
        let bound = std::hint::black_box(&marker) as *const u8 as usize;
        let (first, depth) = inner_above(bound);
        let mut full = [0usize; 64];
        let full_depth = super::trace(&mut full);
        (first, depth, full, full_depth)
    }

    #[test]
    #[inline(never)]
    fn a_walk_above_a_stack_address_starts_at_its_function_s_caller() {
        let (first, depth, full, full_depth) = outer_with_marker();
        // The same return address into this test, in both walks; below it
        // the whole walk has the marker's function and trace's frames.
        let at = full[..full_depth].iter().position(|&ip| ip == first);
        assert!(at.is_some_and(|i| i >= 2), "{first:#x} in {full:x?}");
        assert_eq!(depth, full_depth - at.unwrap());
        let here = a_walk_above_a_stack_address_starts_at_its_function_s_caller as fn() as usize;
        assert!(
            first > here && first < here + 4096,
            "{first:#x} vs {here:#x}"
        );
    }
}

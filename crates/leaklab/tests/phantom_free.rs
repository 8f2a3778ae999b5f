//! A block freed behind the interposer's back (a `free` found with
//! `dlsym(RTLD_NEXT, "free")`, glibc's own) stays in the side table; once
//! glibc hands its address out again, the new block replaces the stale
//! entry, and the counts must not keep both.

use leaklab::heap::c;

#[global_allocator]
static ALLOC: leaklab::Counting = leaklab::Counting::system();

#[leaklab::test]
fn a_block_freed_behind_the_interposers_back_leaves_no_phantom_once_reused() {
    // SAFETY: dlsym with a NUL-terminated name; glibc's free has this type.
    let glibc_free: unsafe extern "C" fn(*mut libc::c_void) = unsafe {
        let sym = libc::dlsym(libc::RTLD_NEXT, c"free".as_ptr());
        assert!(!sym.is_null());
        std::mem::transmute::<*mut libc::c_void, unsafe extern "C" fn(*mut libc::c_void)>(sym)
    };
    let before = c::stats();
    // SAFETY: a malloc freed once by glibc's own free, then a new block
    // freed once by the interposed free.
    unsafe {
        let p = libc::malloc(24);
        glibc_free(p);
        // The thread's tcache hands the same address back.
        let q = libc::malloc(24);
        assert_eq!(q, p, "glibc reused the address");
        let held = c::stats();
        assert_eq!(
            (
                held.live_blocks - before.live_blocks,
                held.live_bytes - before.live_bytes
            ),
            (1, 24),
            "one block is live, not two"
        );
        libc::free(q);
    }
    let after = c::stats();
    assert_eq!(
        (after.live_blocks, after.live_bytes),
        (before.live_blocks, before.live_bytes)
    );
}

//! Real memory errors, each of a kind memcheck reports (its names in
//! ../expected.tsv: InvalidRead, InvalidWrite, InvalidFree,
//! UninitCondition, Overlap). None of these tests loses a block: what
//! they allocate they free (the double free frees once too often).
//! Every one is undefined behaviour on purpose: the bug is the test.

#[cfg(test)]
mod tests {
    use std::hint::black_box;
    use std::ptr;

    /// A fresh C block of `n` bytes.
    fn malloc(n: usize) -> *mut u8 {
        // SAFETY: malloc has no precondition.
        let p = unsafe { libc::malloc(n) }.cast::<u8>();
        assert!(!p.is_null());
        p
    }

    fn free(p: *mut u8) {
        // SAFETY: callers pass a block from malloc (or, in the tests of
        // bad frees, deliberately not).
        unsafe { libc::free(p.cast()) };
    }

    /// Reads the byte just past a 16-byte block: InvalidRead.
    #[test]
    fn invalid_read() {
        let p = malloc(16);
        // SAFETY: none: offset 16 is one past the block, the deliberate
        // out-of-bounds read (inside malloc's chunk, so glibc never sees it).
        black_box(unsafe { ptr::read_volatile(p.add(16)) });
        free(p);
    }

    /// Writes the byte just past a 16-byte block: InvalidWrite.
    #[test]
    fn invalid_write() {
        let p = malloc(16);
        // SAFETY: none: the deliberate out-of-bounds write, one past the
        // block (into malloc's slack, so glibc's checks never see it).
        unsafe { ptr::write_volatile(p.add(16), 0x5a) };
        free(p);
    }

    /// Reads a block after freeing it: InvalidRead.
    #[test]
    fn use_after_free() {
        let p = malloc(32);
        // SAFETY: p is a fresh 32-byte block.
        unsafe { ptr::write_bytes(p, 1, 32) };
        free(p);
        // SAFETY: none: p was freed above, the deliberate use after free.
        black_box(unsafe { ptr::read_volatile(p.add(8)) });
    }

    /// Frees a block twice: InvalidFree (glibc aborts: "free(): double
    /// free detected in tcache 2"; memcheck reports and goes on).
    #[test]
    fn double_free() {
        let p = malloc(32);
        free(p);
        // The deliberate second free.
        free(black_box(p));
    }

    /// Frees a pointer into the middle of a block: InvalidFree (glibc
    /// aborts: "free(): invalid pointer"), and the block itself is never
    /// freed by the process. Under memcheck the bad free frees nothing, so
    /// the block (64 bytes) would be lost: the test frees it properly after.
    #[test]
    fn interior_free() {
        let p = malloc(64);
        // SAFETY: offset 16 is inside the 64-byte block.
        let inside = unsafe { p.add(16) };
        // The deliberate free of a pointer malloc never returned.
        free(black_box(inside));
        free(p);
    }

    /// Branches on a byte malloc never initialised: UninitCondition.
    #[test]
    fn uninit_read() {
        let p = malloc(8);
        // SAFETY: none: the byte is uninitialised, the deliberate bug (a
        // volatile read, so the branch below is really taken on it).
        let b = unsafe { ptr::read_volatile(p) };
        if black_box(b) == 0x42 {
            println!("uninitialised byte was 0x42");
        }
        free(p);
    }

    /// strcpy between overlapping ranges of one block: Overlap. (Not
    /// memcpy: memcheck takes glibc's memcpy@GLIBC_2.14 for a memmove and
    /// checks no overlap there.)
    #[test]
    fn overlapping_strcpy() {
        let p = malloc(64);
        // SAFETY: p is a fresh 64-byte block: 15 letters and a NUL fit.
        unsafe {
            ptr::write_bytes(p, b'a', 15);
            p.add(15).write(0);
        }
        // SAFETY: none for strcpy's contract: the 12 bytes and NUL copied
        // from p + 4 to p overlap, the deliberate bug (the copy moves down,
        // so it ends at the NUL, inside the block).
        unsafe { libc::strcpy(p.cast(), p.add(4).cast()) };
        free(p);
    }
}

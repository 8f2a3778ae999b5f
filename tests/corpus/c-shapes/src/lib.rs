//! C leak shapes through libc, the sizes of each block following from the
//! call (and, where glibc chooses the size, from glibc 2.36's source, as
//! each test says). The truth is in ../expected.tsv. A block is lost when
//! no pointer to it (or to a block that points to it) is left at exit:
//! memcheck's definitely plus indirectly lost.

#[cfg(test)]
mod tests {
    use std::ffi::{CStr, c_char, c_int, c_void};
    use std::hint::black_box;
    use std::ptr;

    unsafe extern "C" {
        /// glibc's asprintf (the libc crate does not declare it).
        fn asprintf(strp: *mut *mut c_char, fmt: *const c_char, ...) -> c_int;
        /// glibc's tzset (not in the libc crate either).
        fn tzset();
    }

    /// A fresh C block of `n` bytes.
    fn malloc(n: usize) -> *mut u8 {
        // SAFETY: malloc has no precondition.
        let p = unsafe { libc::malloc(n) }.cast::<u8>();
        assert!(!p.is_null());
        p
    }

    // ---- lost, C's side --------------------------------------------------

    /// malloc(100), never freed: 1/100.
    #[test]
    fn malloc_100() {
        black_box(malloc(100));
    }

    /// calloc(10, 12): 1/120.
    #[test]
    fn calloc_10x12() {
        // SAFETY: calloc has no precondition; never freed: the leak.
        black_box(unsafe { libc::calloc(10, 12) });
    }

    /// malloc(10), realloc to 100, then to 1000: one block of 1000.
    #[test]
    fn realloc_chain() {
        let p = malloc(10);
        // SAFETY: p is live and from malloc; each realloc's result replaces
        // it. The last block is never freed: the leak.
        let p = unsafe { libc::realloc(p.cast(), 100) };
        assert!(!p.is_null());
        // SAFETY: as above.
        let p = unsafe { libc::realloc(p, 1000) };
        assert!(!p.is_null());
        black_box(p);
    }

    /// malloc(1000) shrunk by realloc to 10: one block of 10.
    #[test]
    fn realloc_shrink() {
        let p = malloc(1000);
        // SAFETY: p is live and from malloc; the result is never freed.
        let p = unsafe { libc::realloc(p.cast(), 10) };
        assert!(!p.is_null());
        black_box(p);
    }

    /// posix_memalign(64, 200): 1/200.
    #[test]
    fn posix_memalign_200() {
        let mut p: *mut c_void = ptr::null_mut();
        // SAFETY: 64 is a power of two and a multiple of the pointer size;
        // the block is never freed: the leak.
        assert_eq!(unsafe { libc::posix_memalign(&mut p, 64, 200) }, 0);
        black_box(p);
    }

    /// aligned_alloc(256, 512): 1/512.
    #[test]
    fn aligned_alloc_512() {
        // SAFETY: 512 is a multiple of the power of two 256; never freed.
        black_box(unsafe { libc::aligned_alloc(256, 512) });
    }

    /// strdup of 13 characters: 14 bytes with the NUL.
    #[test]
    fn strdup_14() {
        // SAFETY: the argument is a NUL-terminated string; the copy is
        // never freed: the leak.
        black_box(unsafe { libc::strdup(c"corpus string".as_ptr()) });
    }

    /// strndup of at most 4 characters: 5 bytes.
    #[test]
    fn strndup_5() {
        // SAFETY: as for strdup.
        let p = unsafe { libc::strndup(c"abcdefghij".as_ptr(), 4) };
        // SAFETY: strndup returns a NUL-terminated string.
        assert_eq!(unsafe { CStr::from_ptr(p) }.to_bytes(), b"abcd");
        black_box(p);
    }

    /// asprintf of "42-x": glibc 2.36 mallocs 100 bytes, then reallocs
    /// (or copies) to exactly the string and its NUL: 1/5.
    #[test]
    fn asprintf_5() {
        let mut p: *mut c_char = ptr::null_mut();
        // SAFETY: the format's conversions match the arguments; the string
        // is never freed: the leak.
        let n = unsafe { asprintf(&mut p, c"%d-%s".as_ptr(), 42 as c_int, c"x".as_ptr()) };
        assert_eq!(n, 4);
        black_box(p);
    }

    /// getline with no buffer: glibc 2.36 mallocs 120 bytes for it (a
    /// line shorter than that needs no more); the stream is closed, the
    /// buffer never freed: 1/120.
    #[test]
    fn getline_buffer() {
        let mut text = *b"one line\nand more\n";
        // SAFETY: text outlives the stream, closed below.
        let f = unsafe { libc::fmemopen(text.as_mut_ptr().cast(), text.len(), c"r".as_ptr()) };
        assert!(!f.is_null());
        let mut line: *mut c_char = ptr::null_mut();
        let mut n: libc::size_t = 0;
        // SAFETY: line and n describe no buffer yet; f is open.
        assert_eq!(unsafe { libc::getline(&mut line, &mut n, f) }, 9);
        assert_eq!(n, 120);
        // SAFETY: f is open, closed once. The line buffer is not freed:
        // the leak.
        unsafe { libc::fclose(f) };
        black_box(line);
    }

    /// opendir without closedir: glibc 2.36 mallocs its DIR and a
    /// directory buffer of at least 32 KiB in one block: 1 block of at
    /// least 32768 bytes (its exact size is the private DIR's plus
    /// st_blksize clamped to 32 KiB..1 MiB).
    #[test]
    fn opendir_unclosed() {
        // SAFETY: a NUL-terminated path; the DIR is never closed: the leak.
        let d = unsafe { libc::opendir(c"/".as_ptr()) };
        assert!(!d.is_null());
        black_box(d);
    }

    /// Five malloc(16) in a loop: 5/80.
    #[test]
    fn malloc_loop() {
        for _ in 0..5 {
            black_box(malloc(16));
        }
    }

    /// A 16-byte head holding the only pointer to a 32-byte block, the
    /// head lost: one definitely, one indirectly lost, 2/48.
    #[test]
    fn c_chain() {
        let head = malloc(16).cast::<*mut u8>();
        // SAFETY: head has room for one pointer (16 >= 8, malloc aligns).
        unsafe { head.write(malloc(32)) };
        black_box(head);
    }

    // ---- lost, both sides --------------------------------------------------

    /// A Box<*mut u8> (Rust, 8 bytes) holding the only pointer to a
    /// malloc(64) (C), the Box forgotten: Rust 1/8 definitely, C 1/64
    /// indirectly lost.
    #[test]
    fn c_block_held_by_lost_rust_box() {
        std::mem::forget(black_box(Box::new(malloc(64))));
    }

    /// A malloc(8) (C) holding the only pointer to a Box<[u8; 40]> (Rust):
    /// C 1/8 definitely, Rust 1/40 indirectly lost.
    #[test]
    fn rust_block_held_by_lost_c_block() {
        let holder = malloc(8).cast::<*mut [u8; 40]>();
        // SAFETY: holder has room for one pointer (malloc aligns).
        unsafe { holder.write(Box::into_raw(Box::new([4u8; 40]))) };
        black_box(holder);
    }

    // ---- clean look-alikes -------------------------------------------------

    /// malloc and free.
    #[test]
    fn malloc_freed() {
        let p = malloc(100);
        // SAFETY: p is from malloc, freed once.
        unsafe { libc::free(p.cast()) };
    }

    /// strdup and free.
    #[test]
    fn strdup_freed() {
        // SAFETY: a NUL-terminated string.
        let p = unsafe { libc::strdup(c"freed".as_ptr()) };
        // SAFETY: p is from strdup, freed once.
        unsafe { libc::free(p.cast()) };
    }

    /// realloc(p, 0): glibc frees p and returns NULL.
    #[test]
    fn realloc_to_zero_frees() {
        let p = malloc(64);
        // SAFETY: p is live and from malloc; glibc frees it on size 0.
        let q = unsafe { libc::realloc(p.cast(), 0) };
        assert!(q.is_null());
    }

    /// opendir and closedir.
    #[test]
    fn opendir_closed() {
        // SAFETY: a NUL-terminated path.
        let d = unsafe { libc::opendir(c"/".as_ptr()) };
        assert!(!d.is_null());
        // SAFETY: d is open, closed once.
        unsafe { libc::closedir(d) };
    }

    /// tzset: glibc keeps the zone's data in statics until exit: still
    /// reachable, not lost.
    #[test]
    fn tzset_keeps_its_data() {
        // SAFETY: tzset has no precondition (no other thread reads TZ).
        unsafe { tzset() };
    }
}

//! Leaks of every size from 1 to 64 bytes, and 4096, 65536 and 1 MiB:
//! for each size n, four tests, each losing exactly one block of n bytes
//! (the truth, by construction, is in ../expected.tsv):
//!
//! - `c_N`: `libc::malloc(n)`, never freed (C's side);
//! - `rust_N`: a `Box<[u8]>` of n bytes (`vec![..; n].into_boxed_slice()`,
//!   which allocates exactly n bytes through Rust's global allocator),
//!   forgotten (Rust's side);
//! - `c_live_N`, `rust_live_N`: the same, allocated between two blocks of
//!   the same size and side that stay referenced from statics until the
//!   process exits (still reachable, not lost). Each test has statics of
//!   its own, so the truth holds whether its process runs it alone
//!   (nextest) or with the others (one memcheck per test binary).

use std::hint::black_box;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

/// One C block of `n` bytes, filled, that nothing frees.
#[inline(never)]
pub fn c_block(n: usize) -> *mut u8 {
    // SAFETY: malloc has no precondition.
    let p = unsafe { libc::malloc(n) }.cast::<u8>();
    assert!(!p.is_null());
    // SAFETY: p is a fresh block of n bytes; the write stays inside it.
    unsafe { ptr::write_bytes(p, 0xa5, n) };
    p
}

/// One Rust block of exactly `n` bytes, filled, that nothing frees.
#[inline(never)]
pub fn rust_block(n: usize) -> *mut u8 {
    let b: Box<[u8]> = vec![0xa5u8; n].into_boxed_slice();
    Box::into_raw(b).cast::<u8>()
}

/// Loses one block of `n` bytes made by `make`: its only pointer is
/// dropped.
#[inline(never)]
pub fn lose(make: fn(usize) -> *mut u8, n: usize) {
    black_box(make(n));
}

/// Two statics that keep a test's live neighbours referenced until exit,
/// so they are never lost.
pub struct Neighbours {
    before: AtomicPtr<u8>,
    after: AtomicPtr<u8>,
}

impl Neighbours {
    pub const fn new() -> Neighbours {
        Neighbours {
            before: AtomicPtr::new(ptr::null_mut()),
            after: AtomicPtr::new(ptr::null_mut()),
        }
    }
}

impl Default for Neighbours {
    fn default() -> Neighbours {
        Neighbours::new()
    }
}

/// The same, between two live neighbours of the same size and side.
#[inline(never)]
pub fn lose_between_live(make: fn(usize) -> *mut u8, n: usize, live: &Neighbours) {
    live.before.store(make(n), Ordering::SeqCst);
    black_box(make(n));
    live.after.store(make(n), Ordering::SeqCst);
}

macro_rules! sizes {
    ($($n:literal => $c:ident, $rust:ident, $c_live:ident, $rust_live:ident;)*) => {
        #[cfg(test)]
        mod tests {
            $(
                #[test]
                fn $c() {
                    super::lose(super::c_block, $n);
                }

                #[test]
                fn $rust() {
                    super::lose(super::rust_block, $n);
                }

                #[test]
                fn $c_live() {
                    static LIVE: super::Neighbours = super::Neighbours::new();
                    super::lose_between_live(super::c_block, $n, &LIVE);
                }

                #[test]
                fn $rust_live() {
                    static LIVE: super::Neighbours = super::Neighbours::new();
                    super::lose_between_live(super::rust_block, $n, &LIVE);
                }
            )*
        }
    };
}

sizes! {
    1 => c_1, rust_1, c_live_1, rust_live_1;
    2 => c_2, rust_2, c_live_2, rust_live_2;
    3 => c_3, rust_3, c_live_3, rust_live_3;
    4 => c_4, rust_4, c_live_4, rust_live_4;
    5 => c_5, rust_5, c_live_5, rust_live_5;
    6 => c_6, rust_6, c_live_6, rust_live_6;
    7 => c_7, rust_7, c_live_7, rust_live_7;
    8 => c_8, rust_8, c_live_8, rust_live_8;
    9 => c_9, rust_9, c_live_9, rust_live_9;
    10 => c_10, rust_10, c_live_10, rust_live_10;
    11 => c_11, rust_11, c_live_11, rust_live_11;
    12 => c_12, rust_12, c_live_12, rust_live_12;
    13 => c_13, rust_13, c_live_13, rust_live_13;
    14 => c_14, rust_14, c_live_14, rust_live_14;
    15 => c_15, rust_15, c_live_15, rust_live_15;
    16 => c_16, rust_16, c_live_16, rust_live_16;
    17 => c_17, rust_17, c_live_17, rust_live_17;
    18 => c_18, rust_18, c_live_18, rust_live_18;
    19 => c_19, rust_19, c_live_19, rust_live_19;
    20 => c_20, rust_20, c_live_20, rust_live_20;
    21 => c_21, rust_21, c_live_21, rust_live_21;
    22 => c_22, rust_22, c_live_22, rust_live_22;
    23 => c_23, rust_23, c_live_23, rust_live_23;
    24 => c_24, rust_24, c_live_24, rust_live_24;
    25 => c_25, rust_25, c_live_25, rust_live_25;
    26 => c_26, rust_26, c_live_26, rust_live_26;
    27 => c_27, rust_27, c_live_27, rust_live_27;
    28 => c_28, rust_28, c_live_28, rust_live_28;
    29 => c_29, rust_29, c_live_29, rust_live_29;
    30 => c_30, rust_30, c_live_30, rust_live_30;
    31 => c_31, rust_31, c_live_31, rust_live_31;
    32 => c_32, rust_32, c_live_32, rust_live_32;
    33 => c_33, rust_33, c_live_33, rust_live_33;
    34 => c_34, rust_34, c_live_34, rust_live_34;
    35 => c_35, rust_35, c_live_35, rust_live_35;
    36 => c_36, rust_36, c_live_36, rust_live_36;
    37 => c_37, rust_37, c_live_37, rust_live_37;
    38 => c_38, rust_38, c_live_38, rust_live_38;
    39 => c_39, rust_39, c_live_39, rust_live_39;
    40 => c_40, rust_40, c_live_40, rust_live_40;
    41 => c_41, rust_41, c_live_41, rust_live_41;
    42 => c_42, rust_42, c_live_42, rust_live_42;
    43 => c_43, rust_43, c_live_43, rust_live_43;
    44 => c_44, rust_44, c_live_44, rust_live_44;
    45 => c_45, rust_45, c_live_45, rust_live_45;
    46 => c_46, rust_46, c_live_46, rust_live_46;
    47 => c_47, rust_47, c_live_47, rust_live_47;
    48 => c_48, rust_48, c_live_48, rust_live_48;
    49 => c_49, rust_49, c_live_49, rust_live_49;
    50 => c_50, rust_50, c_live_50, rust_live_50;
    51 => c_51, rust_51, c_live_51, rust_live_51;
    52 => c_52, rust_52, c_live_52, rust_live_52;
    53 => c_53, rust_53, c_live_53, rust_live_53;
    54 => c_54, rust_54, c_live_54, rust_live_54;
    55 => c_55, rust_55, c_live_55, rust_live_55;
    56 => c_56, rust_56, c_live_56, rust_live_56;
    57 => c_57, rust_57, c_live_57, rust_live_57;
    58 => c_58, rust_58, c_live_58, rust_live_58;
    59 => c_59, rust_59, c_live_59, rust_live_59;
    60 => c_60, rust_60, c_live_60, rust_live_60;
    61 => c_61, rust_61, c_live_61, rust_live_61;
    62 => c_62, rust_62, c_live_62, rust_live_62;
    63 => c_63, rust_63, c_live_63, rust_live_63;
    64 => c_64, rust_64, c_live_64, rust_live_64;
    4096 => c_4096, rust_4096, c_live_4096, rust_live_4096;
    65536 => c_65536, rust_65536, c_live_65536, rust_live_65536;
    1048576 => c_1048576, rust_1048576, c_live_1048576, rust_live_1048576;
}

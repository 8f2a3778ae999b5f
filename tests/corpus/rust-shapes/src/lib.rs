//! Pure-Rust leak shapes: every block below is allocated through Rust's
//! global allocator (the default, `System`, i.e. glibc's malloc, calloc
//! and realloc underneath), so every lost block is on Rust's side. Each
//! test states its blocks and bytes; where they follow from a standard
//! type's layout, the test asserts the `size_of` it relies on, so a
//! toolchain that changes the layout fails the test instead of silently
//! changing the truth in ../expected.tsv.
//!
//! "Lost" is memcheck's definitely plus indirectly lost: no pointer to
//! the block (or to the block that points to it) is left anywhere at exit.
//! A block still referenced from a static, a thread-local or a live
//! thread's stack is still reachable: not lost.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::AtomicPtr;
use std::sync::{Arc, Mutex};

/// An `Rc` cycle's node: a `RefCell<Option<Rc<Node>>>`, 16 bytes (the
/// borrow flag and one pointer); its `RcBox` adds the two counts: 32.
pub struct RcNode {
    pub next: RefCell<Option<Rc<RcNode>>>,
}

/// An `Arc` cycle's node: a `Mutex<Option<Arc<Node>>>`, 16 bytes on
/// Linux (the futex word, the poison flag, one pointer); its `ArcInner`
/// adds the two counts: 32.
pub struct ArcNode {
    pub next: Mutex<Option<Arc<ArcNode>>>,
}

pub trait Shape {
    fn area(&self) -> u64;
}

/// 32 bytes behind a `Box<dyn Shape>`.
pub struct Quad {
    pub sides: [u64; 4],
}

impl Shape for Quad {
    fn area(&self) -> u64 {
        self.sides.iter().sum()
    }
}

/// Referenced until exit: what a static keeps is still reachable.
pub static KEPT: AtomicPtr<[u8; 48]> = AtomicPtr::new(std::ptr::null_mut());
pub static KEPT_VEC: Mutex<Vec<u8>> = Mutex::new(Vec::new());

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, HashMap, LinkedList, VecDeque};
    use std::ffi::CString;
    use std::hint::black_box;
    use std::mem::{forget, size_of};
    use std::sync::atomic::Ordering;

    // ---- lost: one block ------------------------------------------------

    /// `Box::new(u64)`: 1 block, 8 bytes.
    #[test]
    fn box_u64() {
        forget(black_box(Box::new(7u64)));
    }

    /// `Box::new([u8; 100])`: 1 block, 100 bytes.
    #[test]
    fn box_array() {
        forget(black_box(Box::new([3u8; 100])));
    }

    /// `String::from` of 14 bytes: one block of exactly 14.
    #[test]
    fn string_from() {
        let s = String::from("hello, corpus!");
        assert_eq!(s.capacity(), 14);
        forget(black_box(s));
    }

    /// `Vec::<u32>::with_capacity(10)`: 40 bytes.
    #[test]
    fn vec_with_capacity() {
        let mut v = Vec::<u32>::with_capacity(10);
        v.push(1);
        assert_eq!(v.capacity(), 10);
        forget(black_box(v));
    }

    /// `vec![1u16; 25]`: 50 bytes (allocated, then filled).
    #[test]
    fn vec_macro() {
        let v = vec![1u16; 25];
        assert_eq!(v.capacity(), 25);
        forget(black_box(v));
    }

    /// `vec![0u8; 33]`: 33 bytes, through `alloc_zeroed` (calloc).
    #[test]
    fn vec_macro_zeroed() {
        let v = vec![0u8; 33];
        assert_eq!(v.capacity(), 33);
        forget(black_box(v));
    }

    /// `(0..12u32).collect::<Vec<_>>()`: an exact size hint, 48 bytes.
    #[test]
    fn collect() {
        let v = (0..12u32).collect::<Vec<_>>();
        assert_eq!(v.capacity(), 12);
        forget(black_box(v));
    }

    /// `<[u8]>::to_vec` of 21 bytes: 21 bytes.
    #[test]
    fn to_vec() {
        let v = b"twenty-one bytes long".to_vec();
        assert_eq!(v.capacity(), 21);
        forget(black_box(v));
    }

    /// `CString::into_raw`, never taken back: 8 bytes and the NUL, 9.
    #[test]
    fn cstring_into_raw() {
        let p = CString::new("into raw").unwrap().into_raw();
        black_box(p);
    }

    /// `Box::leak` whose reference is dropped: 48 bytes, definitely lost.
    #[test]
    fn box_leak_dropped() {
        let r: &'static mut [u8; 48] = Box::leak(Box::new([1u8; 48]));
        black_box(r);
    }

    /// `Box<dyn Shape>` of a 32-byte struct, forgotten: 32 bytes.
    #[test]
    fn box_dyn_trait() {
        assert_eq!(size_of::<Quad>(), 32);
        let b: Box<dyn Shape> = Box::new(Quad {
            sides: [1, 2, 3, 4],
        });
        assert_eq!(b.area(), 10);
        forget(black_box(b));
    }

    /// A boxed closure capturing 24 bytes: 24 bytes.
    #[test]
    fn boxed_closure() {
        let captured = [5u64; 3];
        let f: Box<dyn Fn() -> u64> = Box::new(move || captured.iter().sum());
        assert_eq!(f(), 15);
        forget(black_box(f));
    }

    /// `Rc::new([u8; 10])`: its RcBox is two counts and 10 bytes, padded
    /// to 8: 32 bytes.
    #[test]
    fn rc_forget() {
        forget(black_box(Rc::new([2u8; 10])));
    }

    /// `Arc::<str>::from` of 6 bytes: two counts and 6 bytes, padded: 24.
    #[test]
    fn arc_str() {
        let a: Arc<str> = Arc::from("shared");
        forget(black_box(a));
    }

    /// A `String` grown by three pushes of 10 bytes: capacity 10, then 20
    /// (double), then 40 (double of 20 > 30): reallocs, one block of 40.
    #[test]
    fn string_grown_by_realloc() {
        let mut s = String::new();
        for _ in 0..3 {
            s.push_str("abcdefghij");
        }
        assert_eq!(s.capacity(), 40);
        forget(black_box(s));
    }

    /// `format!` then `into_boxed_str` (shrunk to its 9 bytes): 9 bytes.
    #[test]
    fn format_boxed_str() {
        let s = format!("{}-{}", 12345, "abc").into_boxed_str();
        assert_eq!(s.len(), 9);
        forget(black_box(s));
    }

    /// `VecDeque::<u64>::with_capacity(5)`, filled: 40 bytes.
    #[test]
    fn vecdeque() {
        let mut d = VecDeque::<u64>::with_capacity(5);
        d.extend([1, 2, 3, 4, 5]);
        assert_eq!(d.capacity(), 5);
        forget(black_box(d));
    }

    /// A `HashMap<u64, u64>` with capacity 3: hashbrown's 4 buckets of 16
    /// bytes, then 4 control bytes and 16 more (one SSE2 group): one block
    /// of 64 + 20 = 84 bytes (the RandomState keys allocate nothing).
    #[test]
    fn hashmap() {
        let mut m = HashMap::<u64, u64>::with_capacity(3);
        m.extend([(1, 10), (2, 20), (3, 30)]);
        assert_eq!(m.capacity(), 3);
        forget(black_box(m));
    }

    /// A `BTreeMap<u32, u32>` of 3 entries: one leaf node (parent pointer
    /// 8, 11 keys 44, 11 values 44, parent index 2, length 2: 100, padded
    /// to 104): 104 bytes.
    #[test]
    fn btreemap() {
        let m: BTreeMap<u32, u32> = [(1, 1), (2, 2), (3, 3)].into_iter().collect();
        forget(black_box(m));
    }

    // ---- lost: several blocks -------------------------------------------

    /// Two `Rc` nodes pointing at each other, both handles dropped: two
    /// RcBoxes of 32 bytes, one definitely and one indirectly lost: 2/64.
    #[test]
    fn rc_cycle() {
        assert_eq!(size_of::<RcNode>(), 16);
        let a = Rc::new(RcNode {
            next: RefCell::new(None),
        });
        let b = Rc::new(RcNode {
            next: RefCell::new(Some(a.clone())),
        });
        *a.next.borrow_mut() = Some(b.clone());
        black_box((a, b));
    }

    /// The same with `Arc` and `Mutex`: 2/64.
    #[test]
    fn arc_cycle() {
        assert_eq!(size_of::<ArcNode>(), 16);
        let a = Arc::new(ArcNode {
            next: Mutex::new(None),
        });
        let b = Arc::new(ArcNode {
            next: Mutex::new(Some(a.clone())),
        });
        *a.next.lock().unwrap() = Some(b.clone());
        black_box((a, b));
    }

    /// A `Vec<String>` of capacity 3 forgotten: its buffer (3 x 24 = 72)
    /// definitely lost, the three 5-byte strings indirectly: 4/87.
    #[test]
    fn vec_of_strings() {
        assert_eq!(size_of::<String>(), 24);
        let mut v = Vec::with_capacity(3);
        for s in ["one..", "two..", "three"] {
            v.push(String::from(s));
        }
        forget(black_box(v));
    }

    /// A `LinkedList<u64>` of 3 forgotten: 3 nodes of 24 bytes (next,
    /// prev, element): 3/72.
    #[test]
    fn linked_list() {
        let l: LinkedList<u64> = [1, 2, 3].into_iter().collect();
        forget(black_box(l));
    }

    // ---- clean look-alikes ----------------------------------------------

    /// `Box::leak` stored in a static: still reachable, not lost.
    #[test]
    fn box_leak_kept_in_static() {
        let r: &'static mut [u8; 48] = Box::leak(Box::new([1u8; 48]));
        KEPT.store(r, Ordering::SeqCst);
    }

    /// A static `Mutex<Vec<u8>>` that grows: still reachable at exit.
    #[test]
    fn static_mutex_vec() {
        KEPT_VEC.lock().unwrap().extend_from_slice(&[9u8; 100]);
    }

    /// A thread-local `Vec` filled in a thread that ends: its destructor
    /// frees it.
    #[test]
    fn thread_local_freed() {
        std::thread::spawn(|| SCRATCH.with(|s| s.borrow_mut().extend_from_slice(&[1u8; 64])))
            .join()
            .unwrap();
    }

    /// `CString::into_raw` taken back with `from_raw`: freed.
    #[test]
    fn cstring_taken_back() {
        let p = CString::new("back").unwrap().into_raw();
        // SAFETY: p came from CString::into_raw just above, once.
        drop(unsafe { CString::from_raw(p) });
    }

    /// An `Rc` cycle broken before the handles go: freed.
    #[test]
    fn rc_cycle_broken() {
        let a = Rc::new(RcNode {
            next: RefCell::new(None),
        });
        let b = Rc::new(RcNode {
            next: RefCell::new(Some(a.clone())),
        });
        *a.next.borrow_mut() = Some(b.clone());
        a.next.borrow_mut().take();
        black_box((a, b));
    }
}

//! `pthread_create`, interposed like `malloc` (a definition in the
//! executable, which the program's own calls bind to): a thread created by
//! a thread of a measuring group ([`crate::heap::group`]) joins that group
//! before it runs anything, so what it allocates and frees is counted with
//! the measurement. Any other thread is created exactly as glibc would
//! (the real `pthread_create`, found once with `dlsym(RTLD_NEXT)`).

use std::ffi::{c_int, c_void};
use std::sync::atomic::{AtomicPtr, Ordering::Relaxed};

use crate::heap::group::{self, Member};

type Start = extern "C" fn(*mut c_void) -> *mut c_void;
type Create = unsafe extern "C" fn(
    *mut libc::pthread_t,
    *const libc::pthread_attr_t,
    Start,
    *mut c_void,
) -> c_int;

unsafe extern "C" {
    fn __libc_malloc(size: usize) -> *mut c_void;
    fn __libc_free(ptr: *mut c_void);
}

static REAL: AtomicPtr<c_void> = AtomicPtr::new(std::ptr::null_mut());

/// glibc's `pthread_create`, looked up once.
fn real() -> Option<Create> {
    let mut found = REAL.load(Relaxed);
    if found.is_null() {
        // SAFETY: dlsym with a NUL-terminated name; RTLD_NEXT finds the
        // definition after this object's own (glibc's).
        found = unsafe { libc::dlsym(libc::RTLD_NEXT, c"pthread_create".as_ptr()) };
        if found.is_null() {
            return None;
        }
        REAL.store(found, Relaxed);
    }
    // SAFETY: the symbol is glibc's pthread_create, of this type.
    Some(unsafe { std::mem::transmute::<*mut c_void, Create>(found) })
}

/// What the new thread needs to join the group, then run its own start.
struct Trampoline {
    member: Member,
    start: Start,
    arg: *mut c_void,
}

extern "C" fn joined_start(tramp: *mut c_void) -> *mut c_void {
    // SAFETY: `tramp` is the Trampoline written by pthread_create below,
    // handed to this thread alone; read once, then given back to glibc.
    let Trampoline { member, start, arg } = unsafe {
        let t = tramp.cast::<Trampoline>().read();
        __libc_free(tramp);
        t
    };
    group::join(member);
    start(arg)
}

/// # Safety
/// POSIX's contract for `pthread_create`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pthread_create(
    thread: *mut libc::pthread_t,
    attr: *const libc::pthread_attr_t,
    start: Start,
    arg: *mut c_void,
) -> c_int {
    let Some(create) = real() else {
        return libc::EAGAIN;
    };
    let Some(member) = group::inherited() else {
        // SAFETY: forwarded as is, per the caller.
        return unsafe { create(thread, attr, start, arg) };
    };
    // glibc's own allocator, past the counters: the trampoline is the
    // interposer's, not the program's.
    // SAFETY: a plain allocation of glibc's.
    let tramp = unsafe { __libc_malloc(size_of::<Trampoline>()) }.cast::<Trampoline>();
    if tramp.is_null() {
        // SAFETY: forwarded as is: the thread is created outside the group.
        return unsafe { create(thread, attr, start, arg) };
    }
    // SAFETY: a fresh block of Trampoline's size (glibc aligns to 16).
    unsafe { tramp.write(Trampoline { member, start, arg }) };
    // What glibc allocates in here is its own bookkeeping for the new
    // thread (the thread vector of a stack it could not take from its
    // cache, kept with that stack after the thread ends), the runtime's as
    // the stack cache is: not the measured closure's. Left in the count,
    // it made a spawn inside a measurement keep 288 B whenever another
    // test's thread had taken the cached stack.
    let creator = super::guard::Thread::current();
    let before = creator.counts().get();
    // SAFETY: the caller's arguments, with a start routine that takes the
    // trampoline over.
    let created = unsafe { create(thread, attr, joined_start, tramp.cast()) };
    creator.counts().set(before);
    if created != 0 {
        // SAFETY: no thread was created: the trampoline is still ours.
        unsafe { __libc_free(tramp.cast()) };
    }
    created
}

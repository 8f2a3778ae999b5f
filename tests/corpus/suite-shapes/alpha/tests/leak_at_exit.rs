//! A program's own leak at exit, as a `harness = false` target: it
//! mallocs 40 bytes, drops the pointer and returns from main: 1/40, C.

#[inline(never)]
fn lose() {
    // SAFETY: malloc has no precondition; never freed: the leak.
    std::hint::black_box(unsafe { libc::malloc(40) });
}

fn main() {
    lose();
}

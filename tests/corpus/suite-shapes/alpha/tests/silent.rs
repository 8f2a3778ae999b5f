//! A `harness = false` target that prints nothing and frees everything:
//! clean.

fn main() {
    let v = vec![0u64; 16];
    std::hint::black_box(&v);
}

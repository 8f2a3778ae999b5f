//! A `harness = false` target that ends with `process::exit(0)` while its
//! locals (a Vec and a Box) are still on main's stack: exit runs no
//! destructor, but the blocks are still reachable, so nothing is lost.

fn main() {
    let v = vec![7u8; 300];
    let b = Box::new([1u64; 8]);
    println!("exit_zero: {} + {}", v.len(), b.len());
    std::hint::black_box((&v, &b));
    std::process::exit(0);
}

//! `LEAKLAB_TARGET`: the host triple, for `cargo leaklab test`'s
//! `CARGO_TARGET_<TRIPLE>_RUNNER`.
fn main() {
    println!(
        "cargo::rustc-env=LEAKLAB_TARGET={}",
        std::env::var("TARGET").unwrap_or_default()
    );
}

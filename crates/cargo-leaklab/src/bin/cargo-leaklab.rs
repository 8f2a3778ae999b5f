//! `cargo leaklab ...`: cargo runs `cargo-leaklab leaklab ARGS`; this is
//! the leaklab command line with cargo's extra word dropped.
fn main() {
    std::process::exit(cargo_leaklab::cli::cargo_main());
}

//! `leaklab watch ...` and `leaklab test ...`.
fn main() {
    std::process::exit(cargo_leaklab::cli::main());
}

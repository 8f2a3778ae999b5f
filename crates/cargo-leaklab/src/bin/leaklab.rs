//! `leaklab watch ...`, `leaklab test ...` and `leaklab run ...`.
fn main() {
    std::process::exit(cargo_leaklab::cli::main());
}

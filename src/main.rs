fn main() {
    std::process::exit(leaklab::cli::main());
}

fn main() {
    let code = leaklab_lab::cli::main();
    // Heap checkers that run at exit (LeakSanitizer's atexit check) scan
    // the exit handlers' frames, which lie where the command's frames were:
    // clear them, so no stale pointer of a workload makes a lost block
    // look reachable.
    leaklab::heap::scrub_stack();
    std::process::exit(code);
}

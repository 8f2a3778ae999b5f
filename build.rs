//! Builds the lab's C library (csrc/), links the system libraries the lab
//! binds (build/libraries.rs, through pkg-config) and, with the `bindgen`
//! feature, regenerates their raw Rust bindings. Compiling and binding are
//! separate steps in separate files, so a fresh machine needs a C compiler
//! (and the system libraries' development packages) only: the bindings are
//! committed in src/sys/.

#[path = "build/bindings.rs"]
mod bindings;
#[path = "build/compile.rs"]
mod compile;
#[path = "build/libraries.rs"]
mod libraries;

fn main() {
    let includes = libraries::link_all();
    bindings::generate_if_enabled(&includes);
    compile::compile_c_libraries();
    sanitizer_env();
}

/// `LEAKLAB_SANITIZER`: the sanitizers this build is instrumented with
/// ("leak", "address,leak"), empty for none; read by src/run/sanitizer.rs
/// with `env!`. The parent caps a sanitizer build's children differently
/// (a sanitizer reserves terabytes of address space at start-up), and a
/// record without C counts says why.
fn sanitizer_env() {
    let rustflags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let mut sanitizers: Vec<&str> = Vec::new();
    // "-Zsanitizer=leak", or "-Z" then "sanitizer=leak".
    for flag in rustflags.split('\x1f') {
        let flag = flag.strip_prefix("-Z").unwrap_or(flag);
        if let Some(names) = flag.strip_prefix("sanitizer=") {
            sanitizers.extend(names.split(',').filter(|n| !n.is_empty()));
        }
    }
    println!("cargo:rustc-env=LEAKLAB_SANITIZER={}", sanitizers.join(","));
    // The host triple, for `cargo leaklab test`'s CARGO_TARGET_<TRIPLE>_RUNNER.
    println!(
        "cargo:rustc-env=LEAKLAB_TARGET={}",
        std::env::var("TARGET").unwrap_or_default()
    );
}

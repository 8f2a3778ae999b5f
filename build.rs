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
    interposer_cfg();
    sanitizer_env();
}

/// `leaklab_interpose`: compile the C allocator interposer
/// (src/heap/interpose.rs) unless this build must not have one: the
/// `uncounted` baseline, a sanitizer build (the sanitizer interposes malloc
/// itself), or a target other than glibc Linux (it forwards to glibc).
fn interposer_cfg() {
    println!("cargo::rustc-check-cfg=cfg(leaklab_interpose)");
    // Set by preload/build.rs for the files the shim compiles by #[path].
    println!("cargo::rustc-check-cfg=cfg(leaklab_shim)");
    println!("cargo:rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
    let rustflags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let sanitizer = rustflags.contains("sanitizer=");
    let uncounted = std::env::var_os("CARGO_FEATURE_UNCOUNTED").is_some();
    let glibc = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu");
    if glibc && !sanitizer && !uncounted {
        println!("cargo:rustc-cfg=leaklab_interpose");
    }
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

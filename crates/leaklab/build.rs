//! `leaklab_interpose`: compile the C allocator interposer
//! (src/heap/interpose.rs) unless this build must not have one: the
//! `uncounted` baseline, a sanitizer build (the sanitizer interposes malloc
//! itself and must see every block), or a target other than glibc Linux
//! (the interposer forwards to glibc's `__libc_malloc`). Reads only cargo's
//! environment: no system package, no compiler.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(leaklab_interpose)");
    println!("cargo::rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
    let rustflags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let sanitizer = rustflags.contains("sanitizer=");
    let uncounted = std::env::var_os("CARGO_FEATURE_UNCOUNTED").is_some();
    let glibc = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu");
    if glibc && !sanitizer && !uncounted {
        println!("cargo::rustc-cfg=leaklab_interpose");
    }
}

//! Links the system's libbz2 (Debian: libbz2-dev).
fn main() {
    println!("cargo:rustc-link-lib=bz2");
}

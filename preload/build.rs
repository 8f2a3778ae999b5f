//! Marks the files the shim shares with the lab (by #[path]) as compiled
//! into the shim, where the lab's test helpers do not exist.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(leaklab_shim)");
    println!("cargo::rustc-cfg=leaklab_shim");
}

//! Compiles the lab's own C library, the connector (csrc/connector), into
//! one static library. It allocates with plain malloc/free, as any C
//! library does; the process's allocator is what the lab counts. The C
//! self test under csrc/tests is not part of the library.

use std::path::{Path, PathBuf};

const SOURCE_DIR: &str = "csrc/connector";

pub fn compile_c_libraries() {
    let mut build = cc::Build::new();
    build
        .std("c11")
        .include("csrc")
        .flag("-Wall")
        .flag("-Wextra")
        .flag("-pedantic")
        // Warnings fail CI's build of the lab's own C, not a user's compiler.
        .warnings_into_errors(std::env::var_os("CI").is_some());
    for source in c_sources(Path::new(SOURCE_DIR)) {
        build.file(&source);
    }
    println!("cargo:rerun-if-changed={SOURCE_DIR}");
    println!("cargo:rerun-if-env-changed=CI");
    build.compile("leaklab_c");
}

/// The `.c` files directly in `dir`, sorted so builds are reproducible.
/// Headers are watched through the folder's rerun-if-changed.
fn c_sources(dir: &Path) -> Vec<PathBuf> {
    let mut sources: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "c"))
        .collect();
    sources.sort();
    for source in &sources {
        println!("cargo:rerun-if-changed={}", source.display());
    }
    sources
}

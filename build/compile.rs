//! Compiles every C source of the lab into one static library: lab_alloc,
//! the connector, and the allocator hooks of the system libraries the lab
//! links (csrc/sqlite), which call lab_alloc.

use std::path::{Path, PathBuf};

/// Source folders, each compiled whole. Self-tests under csrc/tests are not
/// part of the library.
const SOURCE_DIRS: &[&str] = &["csrc", "csrc/connector", "csrc/sqlite"];

/// `system_includes`: where the linked system libraries' headers are
/// (pkg-config's answer, often empty).
pub fn compile_c_libraries(system_includes: &[PathBuf]) {
    let mut build = cc::Build::new();
    build
        .std("c11")
        .include("csrc")
        .includes(system_includes)
        .flag("-Wall")
        .flag("-Wextra")
        .flag("-pedantic")
        // The lab's own C: a warning is a bug.
        .warnings_into_errors(true);
    for dir in SOURCE_DIRS {
        for source in c_sources(Path::new(dir)) {
            build.file(&source);
        }
        println!("cargo:rerun-if-changed={dir}");
    }
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

//! Links every library of build/library_table.rs (a system library through
//! pkg-config; a bundled one is linked by its `-sys` crate, and only its
//! header is looked up here), and tells the crate where their committed
//! bindings are.

#[path = "library_table.rs"]
mod table;

use std::path::PathBuf;

pub use table::{LIBRARIES, Library, Link};

/// Links each library and returns every include path pkg-config reported
/// (for bindgen; often none: /usr/include). A missing library stops the
/// build with the package that provides it.
pub fn link_all() -> Vec<(&'static Library, Vec<PathBuf>)> {
    let linked = LIBRARIES
        .iter()
        .filter(|lib| lib.enabled())
        .map(|lib| (lib, link(lib)))
        .collect();
    write_sys_modules();
    linked
}

fn link(lib: &Library) -> Vec<PathBuf> {
    match lib.link {
        Link::System {
            pkg_config,
            min_version,
            debian_package,
        } => match pkg_config::Config::new()
            .atleast_version(min_version)
            .probe(pkg_config)
        {
            Ok(found) => found.include_paths,
            Err(e) => panic!(
                "leaklab links the system's {pkg_config} >= {min_version} through \
                 pkg-config, which could not find it: install it (Debian/Ubuntu: \
                 apt-get install {debian_package} pkg-config).\n{e}"
            ),
        },
        // The crate has compiled and linked it already (its build script
        // runs before this one); only bindgen needs the header's directory.
        Link::Bundled { krate, include_env } => match std::env::var_os(include_env) {
            Some(dir) => vec![PathBuf::from(dir)],
            None => panic!(
                "{include_env} is not set: the {krate} crate (a dependency in Cargo.toml) \
                 reports its header's directory there"
            ),
        },
    }
}

/// OUT_DIR/sys_libraries.rs: `pub mod <module>` over each committed
/// bindings file of this build's libraries, included by src/sys/mod.rs.
fn write_sys_modules() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR");
    let mut text = String::new();
    for lib in LIBRARIES.iter().filter(|lib| lib.enabled()) {
        let file = format!("{dir}/src/sys/{}_bindings.rs", lib.module);
        println!("cargo:rerun-if-changed={file}");
        text.push_str(&format!(
            "/// {}: bindgen output for `{}` (build/library_table.rs).\n\
             pub mod {} {{\n    include!({file:?});\n}}\n",
            lib.link.describe(lib.module),
            lib.headers.join("`, `"),
            lib.module
        ));
    }
    println!("cargo:rerun-if-changed=build/library_table.rs");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("sys_libraries.rs");
    std::fs::write(&out, text).unwrap_or_else(|e| panic!("write {}: {e}", out.display()));
}

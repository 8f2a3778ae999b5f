//! The committed bindings equal what bindgen makes of their headers today:
//! src/sys/bindings.rs for the lab's own C, and src/sys/<module>_bindings.rs
//! for every system library of build/library_table.rs (a new entry is
//! checked with no edit here). Runs with `cargo test --features bindgen`
//! (needs libclang); without the feature this file has nothing to check and
//! says so.

#[cfg(feature = "bindgen")]
#[path = "../build/library_table.rs"]
#[allow(dead_code)]
mod table;

#[cfg(feature = "bindgen")]
fn assert_fresh(file: &str) {
    let read = |path: String| {
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
    };
    let fresh = read(format!("{}/{file}", env!("OUT_DIR")));
    let committed = read(format!("{}/src/sys/{file}", env!("CARGO_MANIFEST_DIR")));
    assert!(
        fresh == committed,
        "src/sys/{file} is stale: run `LEAKLAB_WRITE_BINDINGS=1 cargo build --features bindgen` and commit it"
    );
}

#[cfg(feature = "bindgen")]
#[test]
fn committed_bindings_match_fresh_bindgen_output() {
    assert_fresh("bindings.rs");
}

#[cfg(feature = "bindgen")]
#[test]
fn committed_system_library_bindings_match_fresh_bindgen_output() {
    assert!(!table::LIBRARIES.is_empty());
    // This build's libraries: a feature-gated one (mariadb) only with its
    // feature on (CI: --features bindgen,mariadb).
    for lib in table::LIBRARIES.iter().filter(|lib| {
        lib.feature
            .is_none_or(|f| f == "mariadb" && cfg!(feature = "mariadb"))
    }) {
        assert_fresh(&format!("{}_bindings.rs", lib.module));
    }
}

#[cfg(not(feature = "bindgen"))]
#[test]
#[ignore = "needs --features bindgen (and libclang): checks the committed bindings against fresh output"]
fn committed_bindings_match_fresh_bindgen_output() {}

#[cfg(not(feature = "bindgen"))]
#[test]
#[ignore = "needs --features bindgen (and libclang): checks the system libraries' bindings against fresh output"]
fn committed_system_library_bindings_match_fresh_bindgen_output() {}

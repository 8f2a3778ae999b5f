//! The committed bindings (src/sys/bindings.rs for the lab's own C,
//! src/sys/sqlite_bindings.rs for libsqlite3) equal what bindgen makes of
//! their wrapper headers today. Runs with `cargo test --features bindgen`
//! (needs libclang); without the feature this file has nothing to check and
//! says so.

#[cfg(feature = "bindgen")]
fn assert_fresh(file: &str, fresh: &str, committed: &str) {
    assert!(
        fresh == committed,
        "src/sys/{file} is stale: run `LEAKLAB_WRITE_BINDINGS=1 cargo build --features bindgen` and commit it"
    );
}

#[cfg(feature = "bindgen")]
#[test]
fn committed_bindings_match_fresh_bindgen_output() {
    assert_fresh(
        "bindings.rs",
        include_str!(concat!(env!("OUT_DIR"), "/bindings.rs")),
        include_str!("../src/sys/bindings.rs"),
    );
}

#[cfg(feature = "bindgen")]
#[test]
fn committed_sqlite_bindings_match_fresh_bindgen_output() {
    assert_fresh(
        "sqlite_bindings.rs",
        include_str!(concat!(env!("OUT_DIR"), "/sqlite_bindings.rs")),
        include_str!("../src/sys/sqlite_bindings.rs"),
    );
}

#[cfg(not(feature = "bindgen"))]
#[test]
#[ignore = "needs --features bindgen (and libclang): checks the committed bindings against fresh output"]
fn committed_bindings_match_fresh_bindgen_output() {}

#[cfg(not(feature = "bindgen"))]
#[test]
#[ignore = "needs --features bindgen (and libclang): checks the committed sqlite bindings against fresh output"]
fn committed_sqlite_bindings_match_fresh_bindgen_output() {}

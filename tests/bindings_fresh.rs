//! The committed bindings (src/sys/bindings.rs) equal what bindgen makes of
//! csrc/bindings.h today. Runs with `cargo test --features bindgen` (needs
//! libclang); without the feature this file has nothing to check and says so.

#[cfg(feature = "bindgen")]
#[test]
fn committed_bindings_match_fresh_bindgen_output() {
    let fresh = include_str!(concat!(env!("OUT_DIR"), "/bindings.rs"));
    let committed = include_str!("../src/sys/bindings.rs");
    assert!(
        fresh == committed,
        "src/sys/bindings.rs is stale: run `LEAKLAB_WRITE_BINDINGS=1 cargo build --features bindgen` and commit it"
    );
}

#[cfg(not(feature = "bindgen"))]
#[test]
#[ignore = "needs --features bindgen (and libclang): checks the committed bindings against fresh output"]
fn committed_bindings_match_fresh_bindgen_output() {}

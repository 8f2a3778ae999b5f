//! Compile-fail proofs: the safe binding's lifetimes and auto traits turn
//! each C ownership rule into a compile error. Each tests/ui/*.rs holds one
//! misuse; its .stderr is the error it must keep producing. Regenerate them
//! with `TRYBUILD=overwrite cargo test --test compile_fail` and read them.

#[test]
fn misuses_of_the_safe_binding_do_not_compile() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}

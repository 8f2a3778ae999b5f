//! The binding's leak checks, with leaklab's public API only: the counting
//! allocator's line, and `#[leaklab::test]` on each check, which runs it in
//! a counted process (under valgrind, which replaces the C allocator
//! leaklab counts at, natively in a child).

use bzip2_binding::{fixed, leaky};
use leaklab::check::{self, Side};

#[global_allocator]
static ALLOC: leaklab::Counting = leaklab::Counting::system();

const DATA: &[u8] = b"alice,34,81.50|bob,27,64.25|carol,45,92.75|dave,19,55.00|eve,38,73.10";

/// What BZ2_bzCompressInit allocates for `block_size`, from bzlib.c: the
/// EState, then arr1 (n words), arr2 (n + BZ_N_OVERSHOOT words) and ftab
/// (65537 words), n = 100000 x block_size, BZ_N_OVERSHOOT = 34. The EState
/// is private: its size is measured at another block size (9) by taking
/// the three arrays away from what that call keeps.
fn arrays(block_size: i64) -> i64 {
    let n = 100_000 * block_size;
    4 * n + 4 * (n + 34) + 4 * 65_537
}

fn estate_measured() -> i64 {
    let m = check::measure(3, || drop(leaky::compress(DATA, 9))).expect("counted");
    let (blocks, bytes) = m.c.per_call().expect("the same every call");
    assert_eq!(blocks, 4, "{m}");
    bytes - arrays(9)
}

#[leaklab::test]
fn fixed_compress_is_clean() {
    check::measure(100, || {
        fixed::compress(DATA, 1).expect("compresses");
    })
    .expect("counted")
    .assert_clean();
}

#[leaklab::test]
fn leaky_compress_keeps_bzlibs_state_and_arrays_every_call() {
    let per_call = arrays(1) + estate_measured();
    check::measure(100, || {
        leaky::compress(DATA, 1).expect("compresses");
    })
    .expect("counted")
    .assert_leaks(Side::C, 4, per_call);
}

#[leaklab::test]
fn the_clean_assertion_names_the_side_the_bytes_per_call_and_the_stack() {
    let m = check::measure(10, || {
        leaky::compress(DATA, 1).expect("compresses");
    })
    .expect("counted");
    let failure = std::panic::catch_unwind(|| m.assert_clean()).expect_err("it leaks");
    let message = failure
        .downcast_ref::<String>()
        .expect("a formatted message");
    println!("{message}");
    let per_call = arrays(1) + estate_measured();
    assert!(
        message.starts_with(&format!(
            "expected no leak, but C kept 4 blocks / {per_call} B per call (40 blocks / {} B in 10 calls), all lost; Rust clean",
            10 * per_call
        )),
        "{message}"
    );
    // The biggest stack starts in this crate, and passes the leaky
    // function. File paths are relative to the working directory
    // (this package's, or the workspace's when the binary is run
    // from there): match their tail.
    let stack: Vec<&str> = message
        .lines()
        .skip_while(|l| !l.contains("allocated at:"))
        .skip(1)
        .take_while(|l| l.starts_with("      "))
        .collect();
    assert!(
        stack[0].contains("bzip2_binding::") && stack[0].contains("src/lib.rs:"),
        "{message}"
    );
    assert!(
        stack
            .iter()
            .any(|l| l.contains("bzip2_binding::leaky::compress (") && l.contains("src/lib.rs:")),
        "{message}"
    );
}

#[leaklab::test]
fn every_failing_allocation_of_fixed_compress_is_handled() {
    let sweep = check::fault_sweep(|| {
        let _ = fixed::compress(DATA, 1);
    })
    .expect("counted");
    assert_eq!(sweep.points.len(), 4, "bzlib's four allocations: {sweep:?}");
    sweep.assert_no_leaks();
}

#[leaklab::test]
fn a_failing_allocation_of_leaky_compress_is_seen() {
    let sweep = check::fault_sweep(|| {
        let _ = leaky::compress(DATA, 1);
    })
    .expect("counted");
    // With the first allocation failed, init fails and nothing is kept; with
    // any later one, bzlib frees what it had: the leak is on the success
    // path, which the sweep never reaches.
    assert!(sweep.leaking().count() == 0, "{sweep:?}");
}

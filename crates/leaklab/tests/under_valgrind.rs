//! Bad input: `check::measure` in a plain `#[test]` (no `#[leaklab::test]`)
//! run under valgrind, whose malloc replaces the C interposer. The C side
//! is not counted there, and the measurement is an error naming the
//! attribute that fixes it, not a zero.
//!
//! valgrind must be installed: a missing valgrind fails this test with the
//! package to install, it does not skip it.

use std::process::Command;

use leaklab::check::{self, CheckError, Side};

#[global_allocator]
static ALLOC: leaklab::Counting = leaklab::Counting::system();

const INNER: &str = "measure_without_the_attribute";

/// Run by the test below, under valgrind; `--ignored` keeps it out of a
/// plain run, where the C side is counted and it would measure.
#[test]
#[ignore = "run under valgrind by measure_under_valgrind_without_the_attribute_names_it"]
fn measure_without_the_attribute() {
    let err = check::measure(5, || std::mem::forget(vec![0u8; 40])).unwrap_err();
    println!("measure returned: {err}");
    assert!(
        matches!(err, CheckError::NotCounted { side: Side::C, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("#[leaklab::test]"), "{err}");
}

#[test]
fn measure_under_valgrind_without_the_attribute_names_it() {
    let exe = std::env::current_exe().expect("this test binary");
    let out = Command::new("valgrind")
        .args(["-q", "--error-exitcode=99"])
        .arg(&exe)
        .args([
            INNER,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot start valgrind ({e}): install it (apt-get install valgrind)")
        });
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the test under valgrind failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    for part in [
        "measure returned: the C side is not counted in this process",
        "under valgrind",
        "mark the test `#[leaklab::test]` to run it in a counted child",
        "1 passed",
    ] {
        assert!(stdout.contains(part), "no {part:?} in:\n{stdout}\n{stderr}");
    }
}

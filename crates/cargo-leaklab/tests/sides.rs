//! The side of a block in an optimised build without debug info, where
//! Rust's allocator leaves no frame of its own (`__rust_alloc` tail-calls
//! `malloc`) and the frame above `malloc` reads the same for a `Box` and a
//! `libc::malloc`: memcheck's stacks read back, sides from the call site.

use std::path::Path;
use std::process::Command;

use cargo_leaklab::parse::attribution::Side;
use cargo_leaklab::parse::valgrind_xml;

/// Each function loses one block of its own size, by its own allocator.
const PROGRAM: &str = r#"
unsafe extern "C" { fn malloc(size: usize) -> *mut u8; fn calloc(n: usize, size: usize) -> *mut u8; }
fn keep(p: *mut u8) { let mut slot = std::hint::black_box(p); unsafe { std::ptr::write_volatile(&mut slot, std::ptr::null_mut()) }; }
#[inline(never)] fn c_malloc() { keep(unsafe { malloc(21) }) }
#[inline(never)] fn c_calloc() { keep(unsafe { calloc(1, 37) }) }
#[inline(never)] fn rust_box() { keep(Box::into_raw(Box::new(std::hint::black_box([1u8; 29]))).cast()) }
#[inline(never)] fn rust_vec(n: usize) { let mut v = Vec::<u8>::with_capacity(n); v.push(1); keep(v.leak().as_mut_ptr()) }
#[inline(never)] fn rust_string() { keep(String::from(std::hint::black_box("forty-five bytes of a string, kept for a test")).leak().as_mut_ptr()) }
fn main() {
    c_malloc(); c_calloc(); rust_box(); rust_string(); rust_vec(std::hint::black_box(53));
}
"#;

#[test]
fn sides_in_a_release_build_without_debug_info() {
    if Command::new("valgrind").arg("--version").output().is_err() {
        panic!("valgrind is not installed: apt-get install valgrind");
    }
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("sides.rs");
    std::fs::write(&source, PROGRAM).unwrap();
    let exe = dir.path().join("sides");
    let built = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .args([
            "--edition=2024",
            "-O",
            "-C",
            "debuginfo=0",
            "-C",
            "strip=none",
            "-o",
        ])
        .arg(&exe)
        .arg(&source)
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let records = leaks_of(&exe);
    let side_of = |bytes: i64| {
        let found: Vec<Side> = records
            .iter()
            .filter(|r| r.1 == bytes)
            .map(|r| r.0)
            .collect();
        assert_eq!(found.len(), 1, "one record of {bytes} B in {records:?}");
        found[0]
    };
    assert_eq!(side_of(21), Side::C, "libc malloc");
    assert_eq!(side_of(37), Side::C, "libc calloc");
    assert_eq!(side_of(29), Side::Rust, "Box::new");
    assert_eq!(side_of(53), Side::Rust, "Vec::with_capacity");
    assert_eq!(side_of(45), Side::Rust, "String::from");
}

/// (side, bytes) of every definitely lost record of `exe` under memcheck.
fn leaks_of(exe: &Path) -> Vec<(Side, i64)> {
    let xml = exe.with_extension("xml");
    let run = Command::new("valgrind")
        .args(["--leak-check=full", "--xml=yes", "--num-callers=40"])
        .arg(format!("--xml-file={}", xml.display()))
        .arg(exe)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let parsed = valgrind_xml::parse(&std::fs::read_to_string(&xml).unwrap()).unwrap();
    parsed
        .records
        .iter()
        .filter(|r| r.kind == valgrind_xml::LeakKind::DefinitelyLost)
        .map(|r| (r.side, r.bytes))
        .collect()
}

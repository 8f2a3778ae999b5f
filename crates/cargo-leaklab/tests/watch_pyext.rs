//! `leaklab watch` on a leaking CPython extension: two small C modules
//! (`tests/pyext/rows.c`, `tests/pyext/records.c`), compiled here against
//! the system's Python headers, driven by `tests/pyext/serve.py`, which
//! prints one line per request.
//!
//! The truth is stated by construction in the sources and checked against
//! valgrind memcheck's definitely-lost records:
//! - `rows.fetch_row` leaks its result buffer, `len(row) * CELL_BYTES`
//!   bytes: serve.py's rows have [`ROW_COLUMNS`] columns, rows.c's cells
//!   [`CELL_BYTES`] bytes, so [`ROW_BYTES`] per request; its twin
//!   `fetch_row_freed` frees it;
//! - `records.keep_record` leaks the bytes object it returns by a
//!   reference too many: one block of `sys.getsizeof` of a
//!   [`PAYLOAD`]-byte bytes object per request.
//!
//! Exact per-site figures need every allocation's stack
//! (`--sites-sample 0`): under the default sampling they are estimates.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

/// Columns of a row in serve.py (`range(7)`).
const ROW_COLUMNS: u64 = 7;
/// Result-buffer bytes per column in rows.c (`#define CELL_BYTES 64`).
const CELL_BYTES: u64 = 64;
/// Bytes fetch_row leaks per request.
const ROW_BYTES: u64 = ROW_COLUMNS * CELL_BYTES;
/// Bytes of the payload serve.py hands keep_record (`* 200`).
const PAYLOAD: u64 = 200;
/// Requests of a run that ends by itself (its scan at exit runs).
const REQUESTS: u64 = 1500;

fn source_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/pyext")
}

fn source(name: &str) -> String {
    std::fs::read_to_string(source_dir().join(name)).unwrap()
}

/// The 1-based line of `file` that carries `marker`.
fn line_of(file: &str, marker: &str) -> u64 {
    let lines: Vec<usize> = source(file)
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(marker) && !l.trim_start().starts_with('*'))
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(lines.len(), 1, "one {marker} line in {file}: {lines:?}");
    lines[0] as u64
}

/// The constants above are the sources' own.
#[test]
fn the_constants_are_the_sources() {
    assert!(source("rows.c").contains(&format!("#define CELL_BYTES {CELL_BYTES}\n")));
    let serve = source("serve.py");
    assert!(serve.contains(&format!("for c in range({ROW_COLUMNS})")));
    assert!(serve.contains(&format!("bytes([n % 256]) * {PAYLOAD}")));
}

/// Bytes of the block keep_record leaks per request: what CPython says a
/// [`PAYLOAD`]-byte bytes object takes (`sys.getsizeof`), asked of it.
fn record_bytes() -> u64 {
    let out = Command::new(common::python3())
        .args([
            "-c",
            &format!("import sys; print(sys.getsizeof(bytes({PAYLOAD})))"),
        ])
        .output()
        .expect("python3 runs");
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// The directory holding `rows.so` and `records.so`, built once per test
/// binary with `gcc -shared -fPIC -g -O1` against the interpreter's own
/// headers. Missing headers (Debian: python3-dev) fail the tests.
fn modules() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("watch-pyext");
        std::fs::create_dir_all(&dir).unwrap();
        let out = Command::new(common::python3())
            .args([
                "-c",
                "import sysconfig; print(sysconfig.get_paths()['include'])",
            ])
            .output()
            .expect("python3 runs");
        let include = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
        assert!(
            include.join("Python.h").is_file(),
            "no Python.h in {} (install the Python headers: python3-dev)",
            include.display()
        );
        for module in ["rows", "records"] {
            let built = Command::new("gcc")
                .args(["-shared", "-fPIC", "-g", "-O1", "-Wall", "-Werror"])
                .arg("-Wno-unused-parameter")
                .arg("-I")
                .arg(&include)
                .arg("-o")
                .arg(dir.join(format!("{module}.so")))
                .arg(source_dir().join(format!("{module}.c")))
                .status()
                .expect("gcc runs");
            assert!(built.success(), "gcc failed on {module}.c");
        }
        dir
    })
}

/// `leaklab watch ARGS -- python3 serve.py MODE COUNT`.
fn watch(args: &[&str], mode: &str, count: u64) -> Output {
    let serve = source_dir().join("serve.py");
    common::command(env!("CARGO_BIN_EXE_leaklab"))
        .env("PYTHONPATH", modules())
        .arg("watch")
        .args(args)
        .arg("--")
        .arg(common::python3())
        .arg(serve)
        .args([mode, &count.to_string()])
        .output()
        .expect("leaklab runs")
}

fn watch_json(args: &[&str], mode: &str, count: u64) -> Value {
    let out = watch(&[args, &["--json"]].concat(), mode, count);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON ({e}); exit {:?}; stderr:\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn growing(w: &Value) -> Vec<&Value> {
    w["sites"]["sites"]
        .as_array()
        .unwrap_or_else(|| panic!("no sites: {:#}", w["sites_note"]))
        .iter()
        .filter(|s| s["grows"] == true)
        .collect()
}

/// The run ended by itself, its scan at exit found at least 95% of
/// `site`'s blocks lost (a stale pointer can make a few look reached), all
/// of `bytes` each.
fn assert_lost(w: &Value, site: &Value, bytes: u64) {
    assert_eq!(w["ending"]["status"]["code"], 0, "{:#}", w["ending"]);
    assert_eq!(w["sites"]["processes"][0]["scanned_at_exit"], true);
    let lost = site["lost_blocks"].as_u64().unwrap();
    assert!((REQUESTS * 95 / 100..=REQUESTS).contains(&lost), "{site:#}");
    assert_eq!(site["lost_bytes"], lost * bytes, "{site:#}");
}

const EXACT: &[&str] = &["--sites-sample", "0", "--per", "^request "];

#[test]
fn the_leaking_c_function_is_named_at_its_line_with_its_exact_bytes_per_request() {
    let w = watch_json(EXACT, "rows", REQUESTS);
    let grows = growing(&w);
    assert_eq!(grows.len(), 1, "only fetch_row grows: {:#}", w["sites"]);
    let site = grows[0];
    assert_eq!(site["function"], "fetch_row", "{site:#}");
    assert!(
        site["file"]
            .as_str()
            .unwrap()
            .ends_with("tests/pyext/rows.c"),
        "{site:#}"
    );
    assert_eq!(site["line"], line_of("rows.c", "/* LEAK */"), "{site:#}");
    assert_eq!(site["library"], "rows.so", "{site:#}");
    let per = site["bytes_per_request"].as_f64().unwrap();
    assert_eq!(per.round(), ROW_BYTES as f64, "{per} B per request");
    // Exact counts: every block it made is live, each of ROW_BYTES.
    assert_eq!(site["frees"], 0, "{site:#}");
    assert_eq!(site["live_blocks"], site["allocations"], "{site:#}");
    let blocks = site["live_blocks"].as_u64().unwrap();
    assert_eq!(site["live_bytes"], blocks * ROW_BYTES, "{site:#}");
    assert_lost(&w, site, ROW_BYTES);
    // Start-up and imports are not blamed: nothing else grows (above).
}

#[test]
fn the_twin_that_frees_its_buffer_has_no_growing_site() {
    let w = watch_json(EXACT, "rows-freed", REQUESTS);
    assert!(
        w["sites"]["fitted"].as_u64().unwrap() >= 10,
        "{:#}",
        w["sites"]
    );
    assert_eq!(growing(&w).len(), 0, "{:#}", w["sites"]);
    assert_eq!(w["judgement"]["heap_grows"], false, "{:#}", w["judgement"]);
    // fetch_row_freed's malloc: the one site in rows.so (named or not:
    // only the first sites are symbolized).
    let fetch = w["sites"]["sites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["library"] == "rows.so")
        .unwrap_or_else(|| panic!("fetch_row_freed's site is listed: {:#}", w["sites"]));
    assert!(fetch["allocations"].as_u64().unwrap() > 100, "{fetch:#}");
    assert_eq!(fetch["live_blocks"], 0, "{fetch:#}");
}

#[test]
fn an_object_leaked_by_a_reference_is_named_by_the_extension_that_made_it() {
    let bytes = record_bytes();
    let w = watch_json(EXACT, "records", REQUESTS);
    let grows = growing(&w);
    assert_eq!(grows.len(), 1, "only the records grow: {:#}", w["sites"]);
    let site = grows[0];
    // The block is the interpreter's (PyBytes_FromStringAndSize's), made
    // for the extension: the site is named by the extension's frame, the
    // interpreter's innermost frame beside it.
    let line = line_of("records.c", "/* ALLOC */");
    let at = format!("tests/pyext/records.c:{line}");
    assert_eq!(site["function"], "keep_record", "{site:#}");
    assert_eq!(site["library"], "records.so", "{site:#}");
    assert!(
        site["file"]
            .as_str()
            .unwrap()
            .ends_with("tests/pyext/records.c")
            && site["line"] == line,
        "{site:#}"
    );
    assert!(
        site["frames"].as_array().unwrap().iter().any(|f| f
            .as_str()
            .unwrap()
            .starts_with("keep_record (")
            && f.as_str().unwrap().ends_with(&format!("{at})"))),
        "{site:#}"
    );
    let inner = site["inner"].as_str().unwrap_or_else(|| panic!("{site:#}"));
    assert!(inner.contains(" in libpython"), "{inner}");
    let per = site["bytes_per_request"].as_f64().unwrap();
    assert_eq!(per.round(), bytes as f64, "{per} B per request");
    assert_eq!(site["frees"], 0, "{site:#}");
    let blocks = site["live_blocks"].as_u64().unwrap();
    assert_eq!(site["live_bytes"], blocks * bytes, "{site:#}");
    assert_lost(&w, site, bytes);
}

#[test]
fn sampled_sites_name_the_leaking_function_with_an_estimate() {
    let w = watch_json(&["--per", "^request "], "rows", REQUESTS);
    assert_eq!(w["sites"]["sample_bytes"], 4096);
    let grows = growing(&w);
    assert!(!grows.is_empty(), "{:#}", w["sites"]);
    assert_eq!(grows[0]["function"], "fetch_row", "{:#}", w["sites"]);
    // One block in ~10 sampled, each counted as ~10: a estimate.
    let per = grows[0]["bytes_per_request"].as_f64().unwrap();
    assert!(
        (ROW_BYTES as f64 * 0.5..=ROW_BYTES as f64 * 1.5).contains(&per),
        "{per} B per request"
    );
}

#[test]
fn every_names_the_growing_site_while_the_script_still_runs() {
    // Runs until stopped (--duration ends it), sites sampled by default.
    let out = watch(
        &["--duration", "8s", "--every", "1s", "--per", "^request "],
        "rows",
        0,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let named: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("leaklab [") && l.contains("fetch_row at "))
        .collect();
    assert!(named.len() >= 2, "{stderr}");
    assert!(
        named.iter().all(|l| l.contains(" B per request; ")
            && l.contains(&format!(
                "rows.c:{} in rows.so",
                line_of("rows.c", "/* LEAK */")
            ))),
        "{stderr}"
    );
    // Printed while it ran: the program was still there when --duration
    // ended.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("stopped when --duration ended"), "{stdout}");
    assert!(stdout.contains("fetch_row at "), "{stdout}");
}

/// Valgrind memcheck's definitely-lost records of `serve.py MODE COUNT`:
/// (bytes, blocks, functions of the stack) each.
fn memcheck(mode: &str, count: u64) -> Vec<(u64, u64, Vec<String>)> {
    let xml = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("watch-pyext-{mode}.xml"));
    let status = Command::new("valgrind")
        .args(["--leak-check=full", "--xml=yes"])
        .arg(format!("--xml-file={}", xml.display()))
        .arg(common::python3())
        .arg(source_dir().join("serve.py"))
        .args([mode, &count.to_string(), "0"])
        .env("PYTHONMALLOC", "malloc")
        .env("PYTHONPATH", modules())
        .stdout(std::process::Stdio::null())
        .status()
        .expect("valgrind runs (Debian: valgrind)");
    assert!(status.success(), "valgrind: {status}");
    let text = std::fs::read_to_string(&xml).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    fn child<'a, 'i>(n: roxmltree::Node<'a, 'i>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
        n.children().find(|c| c.has_tag_name(name))
    }
    doc.descendants()
        .filter(|e| e.has_tag_name("error"))
        .filter(|e| child(*e, "kind").and_then(|k| k.text()) == Some("Leak_DefinitelyLost"))
        .map(|e| {
            let what = child(e, "xwhat").unwrap();
            let number = |name| {
                child(what, name)
                    .and_then(|n| n.text())
                    .unwrap()
                    .parse()
                    .unwrap()
            };
            let functions = child(e, "stack")
                .unwrap()
                .descendants()
                .filter(|n| n.has_tag_name("fn"))
                .filter_map(|n| n.text().map(str::to_owned))
                .collect();
            (number("leakedbytes"), number("leakedblocks"), functions)
        })
        .collect()
}

#[test]
fn valgrind_finds_the_bytes_the_sources_say() {
    let calls = 50;
    let lost = memcheck("rows", calls);
    assert_eq!(lost.len(), 1, "{lost:?}");
    assert_eq!(lost[0].0, calls * ROW_BYTES, "{lost:?}");
    assert_eq!(lost[0].1, calls, "{lost:?}");
    assert_eq!(lost[0].2[..2], ["malloc", "fetch_row"], "{lost:?}");
    assert!(memcheck("rows-freed", calls).is_empty());
    let lost = memcheck("records", calls);
    assert_eq!(lost.len(), 1, "{lost:?}");
    assert_eq!(lost[0].0, calls * record_bytes(), "{lost:?}");
    assert_eq!(lost[0].1, calls, "{lost:?}");
    assert!(lost[0].2.iter().any(|f| f == "keep_record"), "{lost:?}");
}

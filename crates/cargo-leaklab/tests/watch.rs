//! `leaklab watch`: real programs (Python 3 scripts) watched for a few
//! seconds, judged from their memory over time.

mod common;

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

/// Appends a 10 KB string to a list every 5 ms: about 2 MB a second.
const GROWING: &str = "
import time
kept = []
while True:
    kept.append(' ' * 10240 + str(len(kept)))
    time.sleep(0.005)
";

/// Makes and drops a 10 KB string every 5 ms: nothing kept.
const FLAT: &str = "
import time
while True:
    s = ' ' * 10240 + str(time.time())
    del s
    time.sleep(0.005)
";

fn watch(args: &[&str]) -> Output {
    common::leaklab(&[&["watch"], args].concat())
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON ({e}); exit {:?}; stdout:\n{}\nstderr:\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn python(script: &str, extra: &[&str]) -> (Output, Value) {
    let out = watch(&[extra, &["--json", "--", common::python3(), "-c", script]].concat());
    let json = json_of(&out);
    (out, json)
}

#[test]
fn a_list_that_keeps_10_kb_strings_grows() {
    let (out, w) = python(GROWING, &["--duration", "3s"]);
    assert_eq!(w["judgement"]["verdict"], "grows", "{w:#}");
    assert_eq!(out.status.code(), Some(1), "grows is exit 1");
    let rss = &w["judgement"]["rss"];
    let slope = rss["slope"].as_f64().unwrap();
    // ~2 MB/s appended; the bar over 2.5 s fitted is 1 MiB / 2.5 s.
    assert!(slope > 500_000.0 && slope < 4_000_000.0, "{rss}");
    assert!(rss["r_squared"].as_f64().unwrap() >= 0.9, "{rss}");
    assert_eq!(w["judgement"]["rss_grows"], true);
    assert_eq!(w["ending"]["stopped"]["reason"], "duration", "{w:#}");
    assert_eq!(w["ending"]["stopped"]["signals"][0], "SIGTERM");
    let samples = w["samples"].as_array().unwrap().len();
    assert!(
        (20..=32).contains(&samples),
        "{samples} samples in 3 s at 100 ms"
    );
}

#[test]
fn allocating_and_dropping_is_flat() {
    let (out, w) = python(FLAT, &["--duration", "3s"]);
    assert_eq!(w["judgement"]["verdict"], "flat", "{w:#}");
    assert_eq!(out.status.code(), Some(0), "flat is exit 0");
    assert_eq!(w["judgement"]["rss_grows"], false);
    let slope = w["judgement"]["rss"]["slope"].as_f64().unwrap();
    assert!(slope.abs() < 200_000.0, "RSS slope {slope} B/s");
}

#[test]
fn the_human_summary_names_the_verdict_slope_and_ending() {
    let out = watch(&["--duration", "2s", "--", common::python3(), "-c", GROWING]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.starts_with(&format!("watched {} -c '", common::python3())),
        "{text}"
    );
    assert!(
        text.contains("stopped when --duration ended (SIGTERM sent)"),
        "{text}"
    );
    assert!(text.contains("MiB/s, R² "), "{text}");
    assert!(
        text.lines()
            .last()
            .unwrap()
            .starts_with("verdict: grows (RSS climbs"),
        "{text}"
    );
}

#[test]
fn a_missing_program_is_one_line_and_exit_2() {
    let out = watch(&["--", "/nonexistent/leaklab-no-such-program", "--flag"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("cannot start /nonexistent/leaklab-no-such-program"),
        "{err}"
    );
}

#[test]
fn bad_durations_and_a_missing_program_list_are_usage_errors() {
    for args in [
        &["--interval", "fast", "--", "true"][..],
        &["--interval", "0ms", "--", "true"],
        &["--duration", "3", "--", "true"],
        &["--json"],
    ] {
        let out = watch(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    }
}

#[test]
fn a_program_that_exits_early_is_reported_with_its_status() {
    // A warm-up longer than the program: nothing is fitted, whatever the
    // machine's speed.
    let (out, w) = python(
        "import time, sys; time.sleep(0.3); sys.exit(3)",
        &["--warmup", "30s"],
    );
    assert_eq!(
        w["ending"]["status"],
        serde_json::json!({"kind": "exited", "code": 3})
    );
    assert_eq!(w["ending"]["stopped"], Value::Null);
    assert_eq!(w["judgement"]["verdict"], "too-short", "{w:#}");
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(
        watch(&[
            "--warmup",
            "30s",
            "--",
            common::python3(),
            "-c",
            "import sys; sys.exit(3)",
        ])
        .stdout,
    )
    .unwrap();
    assert!(text.contains("exited with status 3"), "{text}");
    assert!(text.contains("verdict: too-short"), "{text}");
}

#[test]
fn a_crash_is_reported_as_one() {
    let script = "import os, signal, time; time.sleep(0.2); os.kill(os.getpid(), signal.SIGSEGV)";
    let (_, w) = python(script, &[]);
    let status = &w["ending"]["status"];
    assert_eq!(status["kind"], "signalled", "{w:#}");
    assert_eq!(status["name"], "SIGSEGV");
    assert_eq!(status["crash"], true);
}

#[test]
fn a_program_that_ignores_sigterm_is_killed_after_the_grace() {
    let script = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True: time.sleep(0.01)";
    let (_, w) = python(script, &["--duration", "1s"]);
    assert_eq!(
        w["ending"]["stopped"]["signals"],
        serde_json::json!(["SIGTERM", "SIGKILL"])
    );
    assert_eq!(w["ending"]["status"]["name"], "SIGKILL", "{w:#}");
    let elapsed = w["elapsed_secs"].as_f64().unwrap();
    assert!(
        (1.9..4.0).contains(&elapsed),
        "1 s, then 1 s of grace: {elapsed}"
    );
}

#[test]
fn ctrl_c_stops_the_program_and_still_prints_the_summary() {
    let child = common::command(env!("CARGO_BIN_EXE_leaklab"))
        .args(["watch", "--json", "--", common::python3(), "-c", FLAT])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: kill has no memory preconditions; `pid` is our unreaped child.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let out = child.wait_with_output().unwrap();
    let w = json_of(&out);
    assert_eq!(w["ending"]["stopped"]["reason"], "interrupt", "{w:#}");
    assert_eq!(w["ending"]["stopped"]["signals"][0], "SIGINT");
    assert!(w["samples"].as_array().unwrap().len() >= 5, "{w:#}");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}

#[test]
fn a_closed_stdout_does_not_panic() {
    let mut child = common::command(env!("CARGO_BIN_EXE_leaklab"))
        .args([
            "watch",
            "--",
            common::python3(),
            "-c",
            "import time; time.sleep(0.7)",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
}

#[test]
fn plot_draws_memory_over_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("watch.svg");
    let path_text = path.to_str().unwrap();
    let out = watch(&[
        "--duration",
        "2s",
        "--plot",
        path_text,
        "--",
        common::python3(),
        "-c",
        GROWING,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let svg = std::fs::read_to_string(&path).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("<polyline"),
        "{svg:.300}"
    );
    assert!(
        svg.lines().any(|l| l.trim() == "seconds"),
        "x axis in seconds"
    );
    assert!(svg.contains("RSS: +"), "legend carries the RSS slope");
}

/// The heap is seen with no variable set: the embedded shim.
#[test]
fn the_shim_sees_the_malloc_heap_grow_and_stay_flat() {
    let (_, w) = python(GROWING, &["--duration", "3s"]);
    assert_eq!(w["heap"]["seen"], true, "{w:#}");
    let heap = &w["judgement"]["heap"];
    let slope = heap["slope"].as_f64().unwrap();
    // 10 KB strings at ~200 a second, all kept: their bytes are malloc's.
    assert!(slope > 500_000.0 && slope < 4_000_000.0, "{heap}");
    assert!(heap["r_squared"].as_f64().unwrap() >= 0.9, "{heap}");
    assert_eq!(w["judgement"]["heap_grows"], true);
    let last = w["samples"].as_array().unwrap().last().unwrap()["heap"].clone();
    assert!(last["blocks"].as_i64().unwrap() > 100, "{last}");

    let (_, w) = python(FLAT, &["--duration", "3s"]);
    assert_eq!(w["heap"]["seen"], true, "{w:#}");
    assert_eq!(w["judgement"]["heap_grows"], false, "{w:#}");
    assert_eq!(w["judgement"]["verdict"], "flat");
}

#[test]
fn a_shim_that_cannot_be_found_leaves_rss_and_one_line_about_the_heap() {
    let out = common::command(env!("CARGO_BIN_EXE_leaklab"))
        .args([
            "watch",
            "--duration",
            "1s",
            "--",
            common::python3(),
            "-c",
            FLAT,
        ])
        .env("LEAKLAB_PRELOAD", "/nonexistent/libleaklab_preload.so")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let heap_lines: Vec<&str> = text.lines().filter(|l| l.contains("heap")).collect();
    assert_eq!(heap_lines.len(), 1, "{text}");
    assert!(
        heap_lines[0]
            .trim_start()
            .starts_with("heap not seen: LEAKLAB_PRELOAD="),
        "{text}"
    );
    assert!(text.contains("  RSS "), "{text}");
}

#[test]
fn a_static_program_the_shim_cannot_enter_says_so() {
    // A static executable has no dynamic loader, so LD_PRELOAD is ignored.
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("sleeper.c");
    let program = dir.path().join("sleeper");
    std::fs::write(
        &source,
        "#include <unistd.h>\nint main(void) { sleep(1); return 0; }\n",
    )
    .unwrap();
    let built = Command::new("cc")
        .arg("-static")
        .arg("-o")
        .arg(&program)
        .arg(&source)
        .status()
        .expect("cc runs");
    assert!(built.success(), "cc -static builds the sleeper");
    let out = common::command(env!("CARGO_BIN_EXE_leaklab"))
        .args(["watch", "--json", "--"])
        .arg(&program)
        .output()
        .unwrap();
    let w = json_of(&out);
    assert_eq!(
        w["ending"]["status"],
        serde_json::json!({"kind": "exited", "code": 0})
    );
    assert_eq!(w["heap"]["seen"], false, "{w:#}");
    let note = w["heap"]["note"].as_str().unwrap();
    assert!(note.contains("did not load into the program"), "{note}");
    assert!(
        w["samples"].as_array().unwrap().len() >= 5,
        "RSS is still sampled"
    );
}

#[test]
fn a_program_that_links_leaklab_has_its_heap_seen_by_its_own_interposer() {
    // leaklab's own binary links the leaklab crate, whose interposer
    // defines malloc in the executable: the preloaded shim's is never
    // called, and the executable's own copy publishes instead (the shim's
    // stays silent). `__addr2line` waits on its standard input, kept open
    // here until the watch ends, allocating as it starts.
    let leaklab = env!("CARGO_BIN_EXE_leaklab");
    let mut child = common::command(leaklab)
        .args(["watch", "--json", "--duration", "1500ms", "--", leaklab])
        .args(["__addr2line", "-e", "/nonexistent"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("leaklab runs");
    let stdin = child.stdin.take();
    let out = child.wait_with_output().unwrap();
    drop(stdin);
    let w = json_of(&out);
    assert_eq!(w["heap"]["seen"], true, "{w:#}");
    let samples = w["samples"].as_array().unwrap();
    assert!(samples.len() >= 5, "{w:#}");
    let heaps: Vec<&Value> = samples
        .iter()
        .map(|s| &s["heap"])
        .filter(|h| !h.is_null())
        .collect();
    assert!(!heaps.is_empty(), "{w:#}");
    // Rust's own allocations (args, the reader's buffers) go to malloc
    // there: the heap holds live blocks.
    assert!(
        heaps.iter().any(|h| h["blocks"].as_i64().unwrap_or(0) > 0),
        "{w:#}"
    );
}

/// A non-PIE program that takes `malloc`'s address (as Debian's
/// `python3.11` does): its `malloc` is an undefined symbol with an address
/// (a canonical PLT entry), which `dlsym` names, though the program
/// defines no `malloc` and its calls reach the shim's.
const TAKES_MALLOCS_ADDRESS_C: &str = r#"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
void *(*volatile chosen)(size_t);
int main(void) {
    chosen = malloc; /* in non-PIC code: the address is a link-time constant */
    for (int i = 0; i < 100; i++) {
        char *p = chosen(64);
        memset(p, i, 64);
        (void)p; /* kept */
    }
    sleep(1);
    return 0;
}
"#;

#[test]
fn a_non_pie_program_that_takes_malloc_s_address_has_its_heap_seen() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("takes_address.c");
    let program = dir.path().join("takes_address");
    std::fs::write(&source, TAKES_MALLOCS_ADDRESS_C).unwrap();
    let built = Command::new("cc")
        .args(["-no-pie", "-fno-pic", "-o"])
        .arg(&program)
        .arg(&source)
        .status()
        .expect("cc runs");
    assert!(built.success(), "cc builds the program");
    let out = common::command(env!("CARGO_BIN_EXE_leaklab"))
        .args(["watch", "--json", "--"])
        .arg(&program)
        .output()
        .unwrap();
    let w = json_of(&out);
    assert_eq!(w["heap"]["seen"], true, "{w:#}");
    let last = w["samples"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find_map(|s| s["heap"]["blocks"].as_i64())
        .unwrap_or(0);
    assert!(last >= 100, "the 100 blocks kept: {w:#}");
}

/// A C program that defines the `malloc` family itself (forwarding to
/// glibc's `__libc_*`, as another allocator, jemalloc's, would serve them):
/// a dynamic executable, so its `malloc` wins over the shim's, and it is
/// no copy of leaklab's interposer. It allocates, then sleeps.
const OWN_MALLOC_C: &str = r#"
#include <stddef.h>
#include <string.h>
#include <unistd.h>
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
void *malloc(size_t n) { return __libc_malloc(n); }
void *calloc(size_t c, size_t n) { return __libc_calloc(c, n); }
void *realloc(void *p, size_t n) { return __libc_realloc(p, n); }
void free(void *p) { __libc_free(p); }
int main(void) {
    for (int i = 0; i < 100; i++) {
        char *p = malloc(64);
        memset(p, i, 64);
        (void)p; /* kept */
    }
    sleep(1);
    return 0;
}
"#;

/// Builds [`OWN_MALLOC_C`] in `dir`.
fn own_malloc_program(dir: &std::path::Path) -> std::path::PathBuf {
    let source = dir.join("own_malloc.c");
    let program = dir.join("own_malloc");
    std::fs::write(&source, OWN_MALLOC_C).unwrap();
    let built = Command::new("cc")
        .arg("-o")
        .arg(&program)
        .arg(&source)
        .status()
        .expect("cc runs");
    assert!(built.success(), "cc builds the program");
    program
}

#[test]
fn a_program_whose_malloc_is_neither_the_shims_nor_leaklabs_has_its_heap_not_seen() {
    let dir = tempfile::tempdir().unwrap();
    let program = own_malloc_program(dir.path());
    let out = common::command(env!("CARGO_BIN_EXE_leaklab"))
        .args(["watch", "--json", "--duration", "1500ms", "--"])
        .arg(&program)
        .output()
        .unwrap();
    let w = json_of(&out);
    assert_eq!(w["heap"]["seen"], false, "{w:#}");
    let note = w["heap"]["note"].as_str().unwrap();
    assert!(note.contains("saw no allocation"), "{note}");
    // Its samples carry RSS, and no heap of 0 bytes.
    let samples = w["samples"].as_array().unwrap();
    assert!(samples.len() >= 5, "{w:#}");
    assert!(samples.iter().all(|s| s["heap"].is_null()), "{w:#}");
}

/// Whether process `pid` has ended (gone, or a zombie awaiting its reaper).
fn ended(pid: u64) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, tail)| tail.trim_start().starts_with('Z')),
    }
}

/// Every process the watch saw in the tree has ended once it returns.
fn assert_tree_ended(w: &Value) {
    let pids: Vec<u64> = w["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["pid"].as_u64().unwrap())
        .collect();
    assert!(!pids.is_empty(), "{w:#}");
    let running: Vec<u64> = pids.iter().copied().filter(|&p| !ended(p)).collect();
    assert!(
        running.is_empty(),
        "still running after the watch: {running:?}"
    );
}

/// A forked child keeps 100 KB strings (~10 MB/s) and ignores SIGTERM;
/// its parent only sleeps.
const FORKED_GROWER: &str = "
import os, signal, time
if os.fork() == 0:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    kept = []
    while True:
        kept.append(' ' * 100000 + str(len(kept)))
        time.sleep(0.01)
while True:
    time.sleep(0.1)
";

#[test]
fn a_forked_child_that_grows_is_named_and_the_whole_tree_is_stopped() {
    let (out, w) = python(FORKED_GROWER, &["--duration", "3s"]);
    assert_eq!(w["judgement"]["verdict"], "grows", "{w:#}");
    assert_eq!(out.status.code(), Some(1));
    let root = w["pid"].as_u64().unwrap();
    let grower = &w["judgement"]["growers"][0];
    let grower_pid = grower["pid"].as_u64().unwrap();
    assert_ne!(grower_pid, root, "the child grows, not the parent: {w:#}");
    // ~10 MB/s kept by the child.
    let slope = grower["rss_slope"].as_f64().unwrap();
    assert!(slope > 3_000_000.0 && slope < 30_000_000.0, "{grower}");
    // Its own record on the page: its heap is seen, and climbs.
    assert_eq!(grower["heap_grows"], true, "{grower}");
    let child = w["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pid"].as_u64() == Some(grower_pid))
        .unwrap();
    assert!(child["samples"].as_array().unwrap().len() >= 20, "{child}");
    // The child ignores SIGTERM: the tree needed SIGKILL.
    assert_eq!(
        w["ending"]["stopped"]["signals"],
        serde_json::json!(["SIGTERM", "SIGKILL"]),
        "{w:#}"
    );
    assert_tree_ended(&w);
}

#[test]
fn a_grower_under_a_forking_shell_is_seen() {
    // `; true` keeps sh from exec'ing python in its own place: python is
    // sh's child.
    let script = format!("{} -c \"{}\"; true", common::python3(), GROWING.trim());
    let out = watch(&["--json", "--duration", "3s", "--", "/bin/sh", "-c", &script]);
    let w = json_of(&out);
    assert_eq!(w["judgement"]["verdict"], "grows", "{w:#}");
    assert_eq!(out.status.code(), Some(1));
    let grower = &w["judgement"]["growers"][0];
    assert_ne!(grower["pid"], w["pid"], "{w:#}");
    assert!(
        grower["command"].as_str().unwrap().contains("kept.append"),
        "{grower}"
    );
    assert_eq!(w["heap"]["seen"], true);
    assert_tree_ended(&w);
}

#[test]
fn what_the_program_leaves_running_when_it_exits_is_stopped() {
    let out = watch(&[
        "--json",
        "--",
        "/bin/sh",
        "-c",
        "sleep 60 & sleep 1; exit 0",
    ]);
    let w = json_of(&out);
    assert_eq!(
        w["ending"]["status"],
        serde_json::json!({"kind": "exited", "code": 0}),
        "{w:#}"
    );
    let left = &w["ending"]["leftovers"];
    assert_eq!(left["pids"].as_array().unwrap().len(), 1, "{w:#}");
    assert_eq!(left["signals"][0], "SIGTERM");
    let sleeper = left["pids"][0].as_u64().unwrap();
    assert!(ended(sleeper), "sleep 60 outlived the watch");
    assert_tree_ended(&w);
}

/// Keeps 1 MiB buffers, ~40 MiB a second, until an allocation fails.
const UNTIL_MEMORY_ERROR: &str = "
import time
kept = []
while True:
    kept.append(bytearray(1 << 20))
    time.sleep(0.025)
";

#[test]
fn a_program_that_runs_out_under_mem_cap_grows() {
    let (out, w) = python(UNTIL_MEMORY_ERROR, &["--mem-cap", "160M"]);
    assert_eq!(w["judgement"]["verdict"], "grows", "{w:#}");
    assert_eq!(out.status.code(), Some(1));
    // Python's MemoryError: exit status 1, not a signal.
    assert_eq!(
        w["ending"]["status"],
        serde_json::json!({"kind": "exited", "code": 1}),
        "{w:#}"
    );
    let oom = w["judgement"]["out_of_memory"].as_str().unwrap();
    assert!(oom.starts_with("malloc refused"), "{oom}");
    assert!(oom.contains("--mem-cap 160.0 MiB"), "{oom}");
    assert_eq!(w["mem_cap"], 160 << 20);
    assert_tree_ended(&w);
}

#[test]
fn a_program_that_caps_itself_and_runs_out_grows() {
    let script = format!(
        "import resource\nresource.setrlimit(resource.RLIMIT_AS, (160 << 20, 160 << 20))\n{UNTIL_MEMORY_ERROR}"
    );
    let (out, w) = python(&script, &[]);
    assert_eq!(w["judgement"]["verdict"], "grows", "{w:#}");
    assert_eq!(out.status.code(), Some(1));
    let oom = w["judgement"]["out_of_memory"].as_str().unwrap();
    assert!(oom.starts_with("malloc refused"), "{oom}");
}

#[test]
fn a_tree_whose_rss_reaches_mem_cap_is_stopped_there() {
    // Two processes of ~100 MiB each: neither reaches the address-space
    // cap of 192 MiB alone, their sum reaches it as RSS.
    let script = "
import os, time
os.fork()
kept = []
for _ in range(100):
    kept.append(bytearray(1 << 20))
    time.sleep(0.01)
time.sleep(30)
";
    let (out, w) = python(script, &["--mem-cap", "192M"]);
    assert_eq!(w["ending"]["stopped"]["reason"], "mem-cap", "{w:#}");
    assert_eq!(w["judgement"]["verdict"], "grows");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        w["judgement"]["out_of_memory"]
            .as_str()
            .unwrap()
            .contains("reached --mem-cap"),
        "{w:#}"
    );
    assert_tree_ended(&w);
}

#[test]
fn an_abort_is_a_crash_with_exit_4() {
    let (out, w) = python("import os, time; time.sleep(1); os.abort()", &[]);
    assert_eq!(w["judgement"]["verdict"], "crashed", "{w:#}");
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(w["ending"]["status"]["name"], "SIGABRT");
    let crash = w["judgement"]["crash"].as_str().unwrap();
    assert!(crash.contains("SIGABRT"), "{crash}");
    let text = String::from_utf8(
        watch(&[
            "--",
            common::python3(),
            "-c",
            "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)",
        ])
        .stdout,
    )
    .unwrap();
    assert!(text.contains("verdict: crashed"), "{text}");
}

/// C blocks of 24 bytes (32-byte chunks) leaked through ctypes: ~200,000
/// a second, and the shim's side table grows with them.
const C_LEAK: &str = "
import ctypes, time
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
while True:
    for _ in range(2000):
        libc.malloc(24)
    time.sleep(0.01)
";

#[test]
fn rss_leaves_out_the_shims_own_side_table() {
    let (_, w) = python(C_LEAK, &["--duration", "3s"]);
    assert_eq!(w["judgement"]["verdict"], "grows", "{w:#}");
    let fitted: Vec<&Value> = w["samples"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["t"].as_f64().unwrap() >= 0.5)
        .collect();
    let (a, b) = (fitted[0], fitted[fitted.len() - 1]);
    let blocks =
        (b["heap"]["blocks"].as_i64().unwrap() - a["heap"]["blocks"].as_i64().unwrap()) as f64;
    assert!(blocks > 50_000.0, "{blocks} blocks leaked");
    let rss = |s: &Value| s["rss_bytes"].as_f64().unwrap();
    let shim = |s: &Value| s["shim_bytes"].as_f64().unwrap();
    let per_block = (rss(b) - rss(a)) / blocks;
    let with_shim = (rss(b) + shim(b) - rss(a) - shim(a)) / blocks;
    // glibc's 32-byte chunk per block; when the shim's memory is counted,
    // the table's 8-byte slot (address and size packed) on top, at a load
    // of 3/8 to 3/4: at least 8 bytes more a block.
    assert!((24.0..48.0).contains(&per_block), "{per_block} B a block");
    assert!(with_shim >= per_block + 8.0, "{with_shim} vs {per_block}");
    let text = String::from_utf8(
        watch(&[
            "--duration",
            "1500ms",
            "--",
            common::python3(),
            "-c",
            C_LEAK,
        ])
        .stdout,
    )
    .unwrap();
    assert!(text.contains("the shim's own side table"), "{text}");
}

/// A Python interpreter runs with PYTHONMALLOC=malloc (one line says so),
/// unless --keep-pymalloc or the environment already chose.
#[test]
fn python_runs_with_pythonmalloc_malloc_unless_told_otherwise() {
    let script = "import os; print('PYTHONMALLOC=' + str(os.environ.get('PYTHONMALLOC')))";
    let run = |extra: &[&str]| {
        let out = watch(&[extra, &["--", common::python3(), "-c", script]].concat());
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (stdout, stderr) = run(&[]);
    assert!(stdout.contains("PYTHONMALLOC=malloc"), "{stdout}");
    assert!(stderr.contains("runs with PYTHONMALLOC=malloc"), "{stderr}");
    let (stdout, stderr) = run(&["--keep-pymalloc"]);
    assert!(stdout.contains("PYTHONMALLOC=None"), "{stdout}");
    assert!(!stderr.contains("PYTHONMALLOC"), "{stderr}");
}

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

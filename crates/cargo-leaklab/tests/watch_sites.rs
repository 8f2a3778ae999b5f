//! `leaklab watch` names the code that keeps the memory: a small C
//! program, compiled here, leaks `malloc(100)` per request in `leak_one`
//! and frees another site's block; its twin frees both. Watch must name
//! `leak_one` at its file:line with ~100 B per request, and blame nothing
//! in the twin.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

/// The program: `leak N [free|fork|dup]`. `leak_one`'s malloc is on line
/// [`LEAK_LINE`]; `churn` allocates and frees a 200-byte block per request;
/// `dup` keeps a 64-byte `strdup` (line [`DUP_LINE`]) instead.
const PROGRAM: &str = r#"#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
void *volatile sink;
__attribute__((noinline)) void *leak_one(void) {
    return malloc(100);
}
__attribute__((noinline)) void churn(void) { void *p = malloc(200); sink = p; free(p); }
__attribute__((noinline)) char *leak_dup(int i) { char b[64]; snprintf(b, sizeof b, "%063d", i); return strdup(b); }
static int dup_mode;
static void serve(int n, int freeit) {
    for (int i = 0; i < n; i++) {
        void *p = dup_mode ? (void *)leak_dup(i) : leak_one();
        sink = p;
        if (freeit) free(p);
        churn();
        printf("request %d\n", i);
        fflush(stdout);
        usleep(1000);
    }
}
int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 1000;
    const char *mode = argc > 2 ? argv[2] : "";
    dup_mode = strcmp(mode, "dup") == 0;
    if (strcmp(mode, "fork") == 0) {
        pid_t child = fork();
        if (child == 0) { serve(n, 0); return 0; }
        serve(n, 1);
        waitpid(child, NULL, 0);
        return 0;
    }
    serve(n, strcmp(mode, "free") == 0);
    return 0;
}
"#;

/// The line of `leak_one`'s `malloc` in [`PROGRAM`].
const LEAK_LINE: u64 = 8;
/// The line of `leak_dup`'s `strdup`.
const DUP_LINE: u64 = 11;

/// [`PROGRAM`] compiled with debug info (and, if `strip`, stripped), once
/// per test binary (the tests run on threads of one process).
fn program(strip: bool) -> PathBuf {
    static PLAIN: OnceLock<PathBuf> = OnceLock::new();
    static STRIPPED: OnceLock<PathBuf> = OnceLock::new();
    let cell = if strip { &STRIPPED } else { &PLAIN };
    cell.get_or_init(|| build(strip)).clone()
}

fn build(strip: bool) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("watch-sites");
    std::fs::create_dir_all(&dir).unwrap();
    // One source per variant: the two are built at once.
    let source = dir.join(if strip { "stripped/leak.c" } else { "leak.c" });
    std::fs::create_dir_all(source.parent().unwrap()).unwrap();
    std::fs::write(&source, PROGRAM).unwrap();
    let exe = dir.join(if strip { "leak-stripped" } else { "leak" });
    let built = Command::new("cc")
        .args(["-g", "-O0", "-o"])
        .arg(&exe)
        .arg(&source)
        .status()
        .expect("cc runs");
    assert!(built.success(), "cc failed");
    if strip {
        let stripped = Command::new("strip")
            .arg(&exe)
            .status()
            .expect("strip runs");
        assert!(stripped.success());
    }
    exe
}

fn watch(args: &[&str], exe: &Path, program_args: &[&str]) -> (Output, Value) {
    let exe = exe.to_str().unwrap();
    let out = common::leaklab(&[&["watch"], args, &["--json", "--", exe], program_args].concat());
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON ({e}); exit {:?}; stderr:\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out, json)
}

fn growing(w: &Value) -> Vec<&Value> {
    w["sites"]["sites"]
        .as_array()
        .unwrap_or_else(|| panic!("no sites: {:#}", w["sites_note"]))
        .iter()
        .filter(|s| s["grows"] == true)
        .collect()
}

#[test]
fn exact_sites_name_leak_one_at_its_line_with_100_bytes_per_request() {
    let exe = program(false);
    let plot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("watch-sites-plot.svg");
    let _ = std::fs::remove_file(&plot);
    let (_, w) = watch(
        &[
            "--duration",
            "3s",
            "--sites-sample",
            "0",
            "--per",
            "^request",
            "--plot",
            plot.to_str().unwrap(),
        ],
        &exe,
        &["100000"],
    );
    // The plot draws the growing site's live bytes beside RSS and the
    // heap, and no site that does not grow.
    let svg = std::fs::read_to_string(&plot).expect("the plot was written");
    assert!(
        svg.contains(&format!("site leak_one at watch-sites/leak.c:{LEAK_LINE}")),
        "{svg}"
    );
    assert!(!svg.contains("site churn"), "{svg}");
    let grows = growing(&w);
    assert_eq!(grows.len(), 1, "only leak_one grows: {:#}", w["sites"]);
    let site = grows[0];
    assert_eq!(site["function"], "leak_one", "{site:#}");
    assert!(
        site["file"].as_str().is_some_and(|f| f.ends_with("leak.c")),
        "{site:#}"
    );
    assert_eq!(site["line"], LEAK_LINE, "{site:#}");
    assert_eq!(site["library"], "leak");
    let per = site["bytes_per_request"].as_f64().unwrap();
    assert!((90.0..=110.0).contains(&per), "{per} B per request");
    assert!(site["fit"]["r_squared"].as_f64().unwrap() >= 0.9);
    assert_eq!(w["sites"]["sample_bytes"], 0);
    // Exact counts: every block leak_one made is live, and churn's site
    // freed all it allocated.
    assert_eq!(site["frees"], 0, "{site:#}");
    assert_eq!(site["live_blocks"], site["allocations"]);
    let churn = w["sites"]["sites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["function"] == "churn")
        .unwrap_or_else(|| panic!("churn's site is listed: {:#}", w["sites"]));
    assert_eq!(churn["grows"], false);
    assert_eq!(churn["live_blocks"], 0, "{churn:#}");
    assert!(churn["allocations"].as_u64().unwrap() > 100, "{churn:#}");
    let whole = w["per"]["heap_bytes_per_request"].as_f64().unwrap();
    assert!(
        (90.0..=110.0).contains(&whole),
        "heap {whole} B per request"
    );
}

#[test]
fn the_twin_that_frees_blames_no_site() {
    let exe = program(false);
    let (out, w) = watch(
        &["--duration", "3s", "--sites-sample", "0"],
        &exe,
        &["100000", "free"],
    );
    assert!(
        w["sites"]["fitted"].as_u64().unwrap() >= 3,
        "decided: {:#}",
        w["sites"]
    );
    assert_eq!(growing(&w).len(), 0, "{:#}", w["sites"]);
    assert_eq!(w["judgement"]["heap_grows"], false, "{:#}", w["judgement"]);
    // The same run, summarised: it says no site keeps memory.
    let _ = out;
    let text = common::leaklab(&[
        "watch",
        "--duration",
        "2s",
        "--sites-sample",
        "0",
        "--",
        exe.to_str().unwrap(),
        "100000",
        "free",
    ]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("allocation sites keeps memory steadily"),
        "{text}"
    );
}

#[test]
fn sampled_sites_still_name_leak_one() {
    let exe = program(false);
    let (_, w) = watch(
        &[
            "--duration",
            "3s",
            "--sites-sample",
            "2K",
            "--per",
            "^request",
        ],
        &exe,
        &["100000"],
    );
    let grows = growing(&w);
    assert!(!grows.is_empty(), "{:#}", w["sites"]);
    assert_eq!(grows[0]["function"], "leak_one", "{:#}", w["sites"]);
    assert_eq!(w["sites"]["sample_bytes"], 2048);
    // An estimate: one sample per ~20 requests.
    let per = grows[0]["bytes_per_request"].as_f64().unwrap();
    assert!((40.0..=250.0).contains(&per), "{per} B per request");
}

#[test]
fn a_stripped_program_gets_library_and_offset_and_one_line_saying_so() {
    let exe = program(true);
    let out = common::leaklab(&[
        "watch",
        "--duration",
        "2s",
        "--sites-sample",
        "0",
        "--",
        exe.to_str().unwrap(),
        "100000",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    let site = text
        .lines()
        .find(|l| l.contains(" live: "))
        .unwrap_or_else(|| panic!("a growing site: {text}"));
    assert!(site.contains("leak-stripped+0x"), "{site}");
    assert!(!site.contains("leak.c"), "{site}");
    assert_eq!(
        text.matches("symbols missing in leak-stripped").count(),
        1,
        "{text}"
    );
}

#[test]
fn a_forked_child_has_sites_of_its_own() {
    let exe = program(false);
    let (_, w) = watch(
        &["--duration", "3s", "--sites-sample", "0"],
        &exe,
        &["100000", "fork"],
    );
    let grows = growing(&w);
    assert_eq!(grows.len(), 1, "{:#}", w["sites"]);
    let parent = w["pid"].as_u64().unwrap();
    let child = grows[0]["pid"].as_u64().unwrap();
    assert_ne!(child, parent, "the child leaks, the parent frees");
    assert_eq!(grows[0]["function"], "leak_one");
    let pids: Vec<u64> = w["sites"]["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["pid"].as_u64().unwrap())
        .collect();
    assert!(pids.contains(&parent) && pids.contains(&child), "{pids:?}");
}

#[test]
fn no_sites_says_so() {
    let exe = program(false);
    let (_, w) = watch(&["--duration", "1s", "--no-sites"], &exe, &["100000"]);
    assert!(w["sites"].is_null());
    assert_eq!(w["sites_note"], "sites not counted (--no-sites)");
}

/// A real program nobody here wrote: CPython (PYTHONMALLOC=malloc, so
/// every object is a malloc block) keeping a dict with a string per
/// request in a list; its twin drops them.
const PY_KEEPS: &str = "
import time
kept = []
n = 0
while True:
    kept.append({'i': n, 's': 'x' * 50 + str(n)})
    n += 1
    print('request', n, flush=True)
    time.sleep(0.002)
";

const PY_DROPS: &str = "
import time
n = 0
while True:
    d = {'i': n, 's': 'x' * 50 + str(n)}
    del d
    n += 1
    print('request', n, flush=True)
    time.sleep(0.002)
";

fn python(script: &str) -> Value {
    let out = common::command(env!("CARGO_BIN_EXE_leaklab"))
        .env("PYTHONMALLOC", "malloc")
        .args([
            "watch",
            "--json",
            "--duration",
            "4s",
            "--warmup",
            "1s",
            "--sites-sample",
            "1K",
            "--per",
            "^request",
            "--",
            common::python3(),
            "-c",
            script,
        ])
        .output()
        .expect("leaklab runs");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON ({e}); stderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn python_keeping_dicts_is_blamed_on_the_interpreter_and_its_twin_is_not() {
    let w = python(PY_KEEPS);
    let grows = growing(&w);
    assert!(!grows.is_empty(), "{:#}", w["sites"]);
    for site in &grows {
        let library = site["library"].as_str().unwrap_or_default();
        assert!(library.contains("python"), "{site:#}");
        assert!(site["bytes_per_request"].as_f64().unwrap() > 0.0);
    }
    let w = python(PY_DROPS);
    assert!(w["sites"]["fitted"].as_u64().unwrap() >= 3);
    assert_eq!(growing(&w).len(), 0, "{:#}", w["sites"]);
}

/// Six functions that each leak a block per request: six stacks.
const MANY: &str = r#"#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
void *volatile sink;
#define LEAKER(name) __attribute__((noinline)) void name(void) { sink = malloc(100); }
LEAKER(a) LEAKER(b) LEAKER(c) LEAKER(d) LEAKER(e) LEAKER(f)
int main(void) {
    for (;;) { a(); b(); c(); d(); e(); f(); usleep(1000); }
}
"#;

#[test]
fn a_full_site_table_folds_the_rest_into_other_sites_and_says_so() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("watch-sites-many");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("many.c"), MANY).unwrap();
    let exe = dir.join("many");
    let built = Command::new("cc")
        .args(["-g", "-O0", "-o"])
        .arg(&exe)
        .arg(dir.join("many.c"))
        .status()
        .expect("cc runs");
    assert!(built.success());
    let run = |json: bool| {
        let mut cmd = common::command(env!("CARGO_BIN_EXE_leaklab"));
        cmd.env("LEAKLAB_WATCH_SITES_CAP", "3").args([
            "watch",
            "--duration",
            "2s",
            "--sites-sample",
            "0",
        ]);
        if json {
            cmd.arg("--json");
        }
        cmd.arg("--").arg(&exe).output().expect("leaklab runs")
    };
    let w: Value = serde_json::from_slice(&run(true).stdout).expect("JSON");
    let process = &w["sites"]["processes"][0];
    assert_eq!(process["cap"], 3, "{process:#}");
    assert!(process["full"].as_u64().unwrap() > 100, "{process:#}");
    let other = growing(&w)
        .into_iter()
        .find(|s| s["kind"] == "other")
        .unwrap_or_else(|| panic!("other sites grow: {:#}", w["sites"]));
    // At most 3 of the six leakers have entries: 3 or more are in "other".
    let per_sec = other["fit"]["slope"].as_f64().unwrap();
    assert!(per_sec > 0.0, "{other:#}");
    let text = run(false);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("the site table (3 stacks) was full"),
        "{text}"
    );
    assert!(text.contains("(other sites: "), "{text}");
}

#[test]
fn a_program_that_exits_says_which_sites_blocks_are_lost() {
    let exe = program(false);
    // 1500 requests (~2 s), then exit: every leak_one block is lost (the
    // one pointer kept, `sink`, is overwritten by churn's next block).
    let (_, w) = watch(&["--sites-sample", "0"], &exe, &["1500"]);
    assert_eq!(w["ending"]["status"]["code"], 0, "{:#}", w["ending"]);
    assert_eq!(w["sites"]["processes"][0]["scanned_at_exit"], true);
    let site = w["sites"]["sites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["function"] == "leak_one")
        .unwrap_or_else(|| panic!("{:#}", w["sites"]));
    // memcheck (after the exit path) calls all 1500 lost. The scan runs
    // inside the exit path and reads main's live frame and the exit
    // path's own frames above it: the last block's address, still in a
    // register main kept it in and an exit-time function saved on the
    // stack, can read as a pointer to it (docs/watch.md). So 1499 or 1500.
    let lost = site["lost_blocks"].as_i64().unwrap();
    assert!((1499..=1500).contains(&lost), "{site:#}");
    assert_eq!(site["lost_bytes"], lost * 100, "{site:#}");
    assert_eq!(site["possible_blocks"], 0, "{site:#}");
    // Stopped by --duration (SIGTERM: no exit, no scan): unknown, not 0.
    let (_, w) = watch(
        &["--duration", "1s", "--sites-sample", "0"],
        &exe,
        &["100000"],
    );
    assert_eq!(w["sites"]["processes"][0]["scanned_at_exit"], false);
    assert!(
        w["sites"]["sites"][0]["lost_blocks"].is_null(),
        "{:#}",
        w["sites"]
    );
}

#[test]
fn a_block_libc_allocates_for_its_caller_names_the_caller() {
    let exe = program(false);
    let (_, w) = watch(
        &["--duration", "2s", "--sites-sample", "0"],
        &exe,
        &["100000", "dup"],
    );
    let grows = growing(&w);
    assert_eq!(grows.len(), 1, "{:#}", w["sites"]);
    let site = grows[0];
    // Shown as the leak checks show a stack: your frame, libc's after it.
    assert_eq!(site["function"], "leak_dup", "{site:#}");
    assert_eq!(site["line"], DUP_LINE, "{site:#}");
    assert_eq!(site["library"], "leak", "{site:#}");
    let inner = site["inner"].as_str().unwrap_or_else(|| panic!("{site:#}"));
    assert!(
        inner.contains("strdup") && inner.contains(" in libc.so"),
        "{inner}"
    );
}

#[test]
fn every_prints_the_growing_sites_while_the_program_runs() {
    let exe = program(false);
    let every = |per: &[&str]| {
        common::leaklab(
            &[
                &["watch", "--duration", "3s", "--every", "1s"][..],
                &["--sites-sample", "0"],
                per,
                &["--", exe.to_str().unwrap(), "100000"],
            ]
            .concat(),
        )
    };
    let out = every(&[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let periodic: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("leaklab [") && l.contains("leak_one at "))
        .collect();
    assert!(periodic.len() >= 2, "{stderr}");
    // The symbolizer's servers --every started are leaklab's, not the
    // program's: one process watched, nothing left running.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("processes seen"), "{stdout}");
    assert!(!stdout.contains("left running"), "{stdout}");
    // With --per, start-up lasts until the first request: a pattern that
    // matches nothing judges nothing while the program runs, and the
    // summary falls back on the plain warm-up.
    let out = every(&["--per", "^nothing matches this"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("sites: no request counted yet (--per): start-up, not judged")
            && !stderr.contains("leak_one at "),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("requests (/^nothing matches this/): 0 lines")
            && stdout.contains("; no line matched: nothing to divide by")
            && stdout.contains("leak_one at "),
        "{stdout}"
    );
}

//! `--detector valgrind` with one memcheck process per test binary (or per
//! share of a big one), not per test: memcheck's start, which dominates a
//! short test, is paid once per binary.
//!
//! nextest builds and lists the tests (`cargo nextest list`, its filters
//! applied); each binary then runs its selected tests under memcheck with
//! libtest's own threads (valgrind runs one at a time, but tests that wait
//! overlap), stacks of [`CALLERS`] frames, which reach the test's own
//! function. Each loss record and memory error is blamed on the test whose
//! frame (`krate::path::test`, or a closure of it) is on its stack;
//! libtest's `test NAME ... ok|FAILED` lines give each test's ending. What
//! no test frame places and counts (a lost block allocated outside any
//! test, or a memory error there) is first looked for in the binary's
//! baseline (memcheck on the same binary running no test: libtest's and
//! the runtime's own); what is left there makes the binary's tests run
//! again one memcheck per test, as nextest runs them ([`super::runner`]),
//! which blames it for sure. A run that crashes or hangs is run again one
//! test at a time (`--test-threads=1`), whose output names the test: it
//! runs alone, one memcheck per test (a crash), or is recorded as timed
//! out, and the others run again per binary without it.

use std::collections::{BTreeSet, HashMap};
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::record::{self, Ending, MemoryError};
use super::report::FailOn;
use super::runner;
use crate::parse::attribution::Frame;
use crate::parse::valgrind_xml::{self as xml, LeakKind};

/// Frames memcheck keeps per stack, as with one process per test: on
/// rusqlite's suite the test's frame was 7 to 18 frames above the
/// allocation, and each frame more is unwound at every malloc and free
/// (100 frames cost some 14% more time there). What is deeper is placed by
/// no frame, and is run again per test.
pub const CALLERS: u32 = 40;

/// A test name that matches no test: the baseline run.
const NO_TEST: &str = "leaklab::baseline-runs-no-test";

/// One test binary as `cargo nextest list` gave it.
#[derive(Debug, Clone)]
pub struct Suite {
    pub path: PathBuf,
    /// The crate name its test functions' symbols start with.
    pub krate: String,
    pub cwd: PathBuf,
    pub package: String,
    pub version: String,
    /// The tests nextest's filters selected.
    pub tests: Vec<String>,
    /// Some of them are `#[ignore]`d (selected by `--run-ignored`).
    pub runs_ignored: bool,
    /// The selection is every test the binary runs by default: no names
    /// need passing.
    pub all: bool,
}

/// What `cargo nextest list --message-format json` says.
#[derive(Debug, Default)]
pub struct Listed {
    pub suites: Vec<Suite>,
    /// Directories the test binaries load libraries from (nextest puts
    /// them on `LD_LIBRARY_PATH`).
    pub lib_dirs: Vec<PathBuf>,
}

/// Reads nextest's JSON listing.
pub fn parse_listing(text: &str) -> Result<Listed, String> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("cargo nextest list's JSON: {e}"))?;
    let mut listed = Listed::default();
    let meta = &v["rust-build-meta"];
    if let Some(target) = meta["target-directory"].as_str() {
        let target = Path::new(target);
        for base in meta["base-output-directories"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if let Some(base) = base.as_str() {
                listed.lib_dirs.push(target.join(base).join("deps"));
                listed.lib_dirs.push(target.join(base));
            }
        }
        for linked in meta["linked-paths"].as_array().into_iter().flatten() {
            if let Some(linked) = linked.as_str() {
                listed.lib_dirs.push(target.join(linked));
            }
        }
    }
    if let Some(libdir) = meta["platforms"]["host"]["libdir"]["path"].as_str() {
        listed.lib_dirs.push(PathBuf::from(libdir));
    }
    let suites = v["rust-suites"]
        .as_object()
        .ok_or("cargo nextest list's JSON has no rust-suites")?;
    for suite in suites.values() {
        let text = |key: &str| suite[key].as_str().unwrap_or_default().to_owned();
        let mut tests = Vec::new();
        let (mut runs_ignored, mut all) = (false, true);
        for (name, case) in suite["testcases"].as_object().into_iter().flatten() {
            let matches = case["filter-match"]["status"] == "matches";
            let ignored = case["ignored"] == true;
            if matches {
                tests.push(name.clone());
                runs_ignored |= ignored;
            } else if !ignored {
                all = false;
            }
        }
        if tests.is_empty() {
            continue;
        }
        let id = text("package-id");
        let version = id
            .rsplit_once('#')
            .map(|(_, v)| v.rsplit_once('@').map_or(v, |(_, v)| v))
            .unwrap_or_default()
            .to_owned();
        listed.suites.push(Suite {
            path: PathBuf::from(text("binary-path")),
            krate: text("binary-name").replace('-', "_"),
            cwd: PathBuf::from(text("cwd")),
            package: text("package-name"),
            version,
            all: all && !runs_ignored,
            tests,
            runs_ignored,
        });
    }
    Ok(listed)
}

/// What every run needs.
pub struct Context {
    /// The records' directory.
    pub dir: PathBuf,
    /// The environment nextest's children get (the runner's settings).
    pub envs: Vec<(OsString, Option<OsString>)>,
    /// This executable, for the per-test runs (`__test-runner`).
    pub exe: PathBuf,
    /// Suppression files, `:`-separated.
    pub supp: OsString,
    pub gen_supp: bool,
    /// Per-test limit under memcheck.
    pub limit: Option<Duration>,
    pub fail_on: FailOn,
    /// The arguments after a lone `--`, for every test binary.
    pub binary_args: Vec<OsString>,
    pub lib_dirs: Vec<PathBuf>,
    ids: AtomicUsize,
}

impl Context {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        dir: PathBuf,
        envs: Vec<(OsString, Option<OsString>)>,
        exe: PathBuf,
        supp: OsString,
        gen_supp: bool,
        limit: Option<Duration>,
        fail_on: FailOn,
        binary_args: Vec<OsString>,
        lib_dirs: Vec<PathBuf>,
    ) -> Context {
        Context {
            dir,
            envs,
            exe,
            supp,
            gen_supp,
            limit,
            fail_on,
            binary_args,
            lib_dirs,
            ids: AtomicUsize::new(0),
        }
    }

    /// The environment and directory `suite`'s tests run in, as nextest
    /// sets them.
    fn configure(&self, cmd: &mut Command, suite: &Suite) {
        for (key, value) in &self.envs {
            match value {
                Some(value) => cmd.env(key, value),
                None => cmd.env_remove(key),
            };
        }
        let mut paths = self.lib_dirs.clone();
        if let Some(old) = std::env::var_os("LD_LIBRARY_PATH") {
            paths.extend(std::env::split_paths(&old));
        }
        if let Ok(joined) = std::env::join_paths(paths) {
            cmd.env("LD_LIBRARY_PATH", joined);
        }
        cmd.current_dir(&suite.cwd)
            .env("CARGO_MANIFEST_DIR", &suite.cwd)
            .env("CARGO_PKG_NAME", &suite.package)
            .env("CARGO_PKG_VERSION", &suite.version)
            .env("CARGO_CRATE_NAME", &suite.krate)
            .stdin(Stdio::null());
    }
}

/// One memcheck process's share: a binary and some of its tests.
struct Unit {
    suite: usize,
    tests: Vec<String>,
}

/// Runs every suite's tests, `jobs` memcheck processes at a time, each
/// test leaving one record in the context's directory.
pub fn run(ctx: &Context, suites: &[Suite], jobs: usize) {
    let jobs = jobs.max(1);
    let total: usize = suites.iter().map(|s| s.tests.len()).sum();
    let mut units = Vec::new();
    for (i, suite) in suites.iter().enumerate() {
        // With fewer binaries than cores, a binary is cut in shares (by
        // its part of the tests) so that every core has some; a share
        // costs one more memcheck start (debug info read again), which
        // measured more than it saved when the other binaries fill the
        // cores.
        let n = suite.tests.len();
        let shares = if suites.len() < jobs {
            (jobs * n).div_ceil(total.max(1)).clamp(1, n.max(1))
        } else {
            1
        };
        let size = n.div_ceil(shares);
        for chunk in suite.tests.chunks(size.max(1)) {
            units.push(Unit {
                suite: i,
                tests: chunk.to_vec(),
            });
        }
    }
    // Largest first (popped from the end).
    units.sort_by_key(|u| u.tests.len());
    let queue = Mutex::new(units);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    let unit = queue.lock().ok().and_then(|mut q| q.pop());
                    let Some(unit) = unit else { break };
                    let suite = &suites[unit.suite];
                    let whole = unit.tests.len() == 1 && unit.tests[0] == runner::WHOLE_BINARY;
                    if whole {
                        per_test(ctx, suite, &unit.tests);
                    } else {
                        run_unit(ctx, suite, unit.tests, true);
                    }
                }
            });
        }
    });
}

/// Each of `tests` in its own memcheck process, through the runner, as
/// nextest would start it: it writes the records.
fn per_test(ctx: &Context, suite: &Suite, tests: &[String]) {
    for test in tests {
        let mut cmd = Command::new(&ctx.exe);
        // As nextest starts it; the runner runs a whole binary bare.
        cmd.arg("__test-runner")
            .arg(&suite.path)
            .args(["--exact", test, "--nocapture"]);
        if test != runner::WHOLE_BINARY {
            cmd.args(&ctx.binary_args);
        }
        ctx.configure(&mut cmd, suite);
        cmd.stdout(std::io::stderr());
        if let Err(e) = cmd.status() {
            let mut record = runner::empty(&suite.path, test, "valgrind");
            record.ending = Ending::NotMeasured(format!("cannot run the test runner: {e}"));
            write(ctx, &record);
        }
    }
}

fn write(ctx: &Context, record: &record::TestRecord) {
    let id = ctx.ids.fetch_add(1, Ordering::Relaxed);
    if let Err(e) = record::write(&ctx.dir, &format!("test-binary{id}"), record) {
        eprintln!("leaklab: cannot write the record of {}: {e}", record.test);
    }
}

/// How a binary's run under memcheck ended.
enum Outcome {
    /// It exited; each test's result line, if it printed one, and the
    /// test it had started and not finished.
    Exited {
        status: std::process::ExitStatus,
        results: HashMap<String, Ending>,
        started: Option<String>,
    },
    /// Silent past the limit: killed, in this test (if one had started).
    TimedOut { test: Option<String> },
}

/// Runs `tests` of `suite` in one memcheck process and records them; what
/// it cannot measure runs again (per binary without the culprit, or per
/// test). `parallel`: libtest's own number of threads (tests that wait
/// overlap; valgrind runs one thread at a time); else one test at a time,
/// which names the test that crashed or hung.
fn run_unit(ctx: &Context, suite: &Suite, tests: Vec<String>, parallel: bool) {
    if tests.is_empty() {
        return;
    }
    let id = ctx.ids.fetch_add(1, Ordering::Relaxed);
    let xml = ctx.dir.join(format!("memcheck-binary-{id}.xml"));
    let outcome = match run_binary(ctx, suite, &tests, &xml, parallel) {
        Ok(outcome) => outcome,
        Err(e) => {
            for test in &tests {
                let mut record = runner::empty(&suite.path, test, "valgrind");
                record.ending = Ending::NotMeasured(e.clone());
                write(ctx, &record);
            }
            return;
        }
    };
    let rest = |culprit: &str| -> Vec<String> {
        tests.iter().filter(|t| *t != culprit).cloned().collect()
    };
    match outcome {
        // Which test crashed or hung: one at a time tells.
        Outcome::TimedOut { .. } if parallel => {
            let _ = std::fs::remove_file(&xml);
            run_unit(ctx, suite, tests, false);
        }
        Outcome::Exited { status, .. } if parallel && !matches!(status.code(), Some(0 | 101)) => {
            let _ = std::fs::remove_file(&xml);
            run_unit(ctx, suite, tests, false);
        }
        Outcome::TimedOut { test: Some(test) } => {
            let _ = std::fs::remove_file(&xml);
            let mut record = runner::empty(&suite.path, &test, "valgrind");
            record.ending = Ending::TimedOut(ctx.limit.map_or(0, |l| l.as_secs()));
            write(ctx, &record);
            run_unit(ctx, suite, rest(&test), false);
        }
        Outcome::TimedOut { test: None } => {
            let _ = std::fs::remove_file(&xml);
            per_test(ctx, suite, &tests);
        }
        Outcome::Exited {
            status,
            results,
            started,
        } => {
            // libtest exits 0, or 101 when a test failed, after the last
            // test's line; anything else (a signal, a test's own exit) cut
            // the run short.
            let whole = matches!(status.code(), Some(0 | 101)) && started.is_none();
            if whole {
                let blamed = blame(ctx, suite, &tests, &results, &xml);
                let _ = std::fs::remove_file(&xml);
                // A test whose line was not read: as nextest would run it.
                let unread: Vec<String> = tests
                    .iter()
                    .filter(|t| !results.contains_key(*t))
                    .cloned()
                    .collect();
                if let Ok(alone) = &blamed {
                    per_test(ctx, suite, &unread);
                    per_test(ctx, suite, alone);
                }
                if let Err(why) = blamed {
                    eprintln!(
                        "leaklab: {} ({} tests): {why}; running them again, one memcheck per test",
                        file_name(&suite.path),
                        tests.len()
                    );
                    per_test(ctx, suite, &tests);
                }
                return;
            }
            let _ = std::fs::remove_file(&xml);
            match started {
                Some(culprit) => {
                    // Alone, as nextest would run it: its own record of
                    // the crash, with memcheck's stacks.
                    per_test(ctx, suite, std::slice::from_ref(&culprit));
                    run_unit(ctx, suite, rest(&culprit), false);
                }
                None => per_test(ctx, suite, &tests),
            }
        }
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
}

/// The memcheck command for `tests` of `suite` (none: the baseline).
fn command(ctx: &Context, suite: &Suite, tests: &[String], xml: &Path, parallel: bool) -> Command {
    let mut cmd = runner::memcheck_command(xml, CALLERS, &ctx.supp, ctx.gen_supp);
    cmd.arg(&suite.path);
    if tests.is_empty() {
        cmd.args([NO_TEST, "--exact"]);
    } else if !suite.all || tests.len() != suite.tests.len() {
        cmd.args(tests).arg("--exact");
    }
    if suite.runs_ignored && !tests.is_empty() {
        cmd.arg("--include-ignored");
    }
    if !parallel {
        cmd.arg("--test-threads=1");
    }
    cmd.args(&ctx.binary_args);
    ctx.configure(&mut cmd, suite);
    cmd
}

/// Runs the binary under memcheck, its output passed on to stderr and
/// read for `test NAME ... RESULT`.
fn run_binary(
    ctx: &Context,
    suite: &Suite,
    tests: &[String],
    xml: &Path,
    parallel: bool,
) -> Result<Outcome, String> {
    use std::io::Read;
    use std::sync::mpsc;
    let mut cmd = command(ctx, suite, tests, xml, parallel);
    cmd.stdout(Stdio::piped()).stderr(std::io::stderr());
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run valgrind: {e}"))?;
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    let mut pipe = child.stdout.take().ok_or("no pipe from the test binary")?;
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = pipe.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let known: BTreeSet<&str> = tests.iter().map(String::as_str).collect();
    let mut results = HashMap::new();
    let mut started: Option<String> = None;
    let mut text = String::new();
    let mut last = Instant::now();
    loop {
        let wait = ctx.limit.map_or(Duration::from_secs(3600), |l| {
            l.saturating_sub(last.elapsed())
        });
        match rx.recv_timeout(wait) {
            Ok(chunk) => {
                let _ = std::io::stderr().write_all(&chunk);
                text.push_str(&String::from_utf8_lossy(&chunk));
                // Whole lines give results; the line still open may be a
                // test's start ("test NAME ... ", its result to come).
                let done = text.rfind('\n').map_or(0, |i| i + 1);
                for line in text[..done].lines() {
                    if let Some((name, result)) = test_line(line, &known) {
                        // The limit counts from a test's start.
                        last = Instant::now();
                        started = Some(name.to_owned());
                        let Some(ending) = libtest_ending(result) else {
                            continue;
                        };
                        results.insert(name.to_owned(), ending);
                        started = None;
                    } else if let Some(name) = started.take() {
                        // The test's own output (C's stdio, not captured)
                        // came between its name and its result.
                        match libtest_ending(line) {
                            Some(ending) => {
                                results.insert(name, ending);
                            }
                            None => started = Some(name),
                        }
                    }
                }
                text.drain(..done);
                if let Some((name, "")) = test_line(&text, &known)
                    && started.as_deref() != Some(name)
                {
                    started = Some(name.to_owned());
                    last = Instant::now();
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) if ctx.limit.is_some() => {
                let _ = child.kill();
                let _ = child.wait();
                return Ok(Outcome::TimedOut { test: started });
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let status = child
        .wait()
        .map_err(|e| format!("valgrind's process: {e}"))?;
    Ok(Outcome::Exited {
        status,
        results,
        started,
    })
}

/// `test NAME ... RESULT` (RESULT empty while the test runs) for a test
/// of `known`.
fn test_line<'a>(line: &'a str, known: &BTreeSet<&str>) -> Option<(&'a str, &'a str)> {
    let (name, result) = line.strip_prefix("test ")?.split_once(" ... ")?;
    known.contains(name).then_some((name, result.trim()))
}

/// libtest's result at the end of a line (after the test's own output,
/// if it printed some without a newline).
fn libtest_ending(result: &str) -> Option<Ending> {
    let result = result.trim_end();
    if result.ends_with("ok") {
        Some(Ending::Passed)
    } else if result.ends_with("FAILED") {
        Some(Ending::Failed(101))
    } else {
        None
    }
}

/// A frame's function without its closures' suffixes:
/// `krate::tests::t::{{closure}}` is `krate::tests::t`.
fn function_of(frame: &Frame) -> Option<&str> {
    let mut f = frame.function.as_deref()?;
    loop {
        let Some((head, last)) = f.rsplit_once("::") else {
            return Some(f);
        };
        if last.starts_with("{{closure}}") || last.starts_with("{closure#") {
            f = head;
        } else {
            return Some(f);
        }
    }
}

/// The test whose function is on `stack` (the outermost such frame: the
/// one libtest called), as an index into the names' test list.
fn owner(stack: &[Frame], names: &HashMap<String, usize>) -> Option<usize> {
    stack
        .iter()
        .rev()
        .find_map(|f| function_of(f).and_then(|f| names.get(f).copied()))
}

/// Whether a record of this kind fails the run (and so must be blamed on
/// a test for sure).
fn counts(kind: LeakKind, fail_on: FailOn) -> bool {
    match kind {
        LeakKind::DefinitelyLost | LeakKind::IndirectlyLost => true,
        LeakKind::PossiblyLost => fail_on.possible,
        LeakKind::StillReachable => fail_on.reachable,
    }
}

/// What identifies a record or error across runs: its kind and functions.
fn signature(kind: &str, stack: &[Frame]) -> String {
    let mut s = kind.to_owned();
    for f in stack {
        s.push('|');
        s.push_str(f.function.as_deref().unwrap_or("?"));
    }
    s
}

/// Reads the run's XML and writes one record per test with what its
/// frames place on it, except for the tests it returns: those with a
/// possibly lost block, to run again alone. Err: something that counts is
/// placed by no test and is not in the binary's baseline.
fn blame(
    ctx: &Context,
    suite: &Suite,
    tests: &[String],
    results: &HashMap<String, Ending>,
    xml_path: &Path,
) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(xml_path)
        .map_err(|e| format!("memcheck's XML {}: {e}", xml_path.display()))?;
    let parsed = xml::parse(&text)?;
    let memory = runner::memory_errors(&text, &parsed.errors);
    let names: HashMap<String, usize> = tests
        .iter()
        .enumerate()
        .map(|(i, t)| (format!("{}::{t}", suite.krate), i))
        .collect();
    let mut records: Vec<Vec<&xml::LossRecord>> = vec![Vec::new(); tests.len()];
    let mut errors: Vec<Vec<(&xml::MemError, MemoryError)>> = vec![Vec::new(); tests.len()];
    let mut unplaced = Vec::new();
    for r in &parsed.records {
        match owner(&r.stack, &names) {
            Some(i) => records[i].push(r),
            None if counts(r.kind, ctx.fail_on) => {
                unplaced.push(signature(&format!("{:?}", r.kind), &r.stack));
            }
            // Runtime and lazily made blocks that do not fail the run:
            // no test's.
            None => {}
        }
    }
    for (e, m) in parsed.errors.iter().zip(memory) {
        match owner(&e.frames, &names) {
            Some(i) => errors[i].push((e, m)),
            None => unplaced.push(signature(&e.kind, &e.frames)),
        }
    }
    if !unplaced.is_empty() {
        let baseline = baseline(ctx, suite)?;
        let left = unplaced.iter().filter(|s| !baseline.contains(*s)).count();
        if left > 0 {
            return Err(format!(
                "{left} loss records or memory errors with no test's frame on their stacks"
            ));
        }
    }
    let mut alone = Vec::new();
    for (i, test) in tests.iter().enumerate() {
        let Some(ending) = results.get(test) else {
            continue;
        };
        // A possibly lost block of a test's may be a lost one that a
        // stale interior pointer, left in memory another test used (a
        // reused thread stack), keeps: the corpus's lost 1 MiB blocks came
        // out "possibly lost" in 4 of 10 runs of its sizes binary under
        // load. Alone, its process holds no other test's leftovers.
        if records[i].iter().any(|r| r.kind == LeakKind::PossiblyLost) {
            eprintln!(
                "leaklab: {test} ({}): a possibly lost block in the shared process; running it again alone",
                file_name(&suite.path)
            );
            alone.push(test.clone());
            continue;
        }
        let mut record = runner::empty(&suite.path, test, "valgrind");
        record.ending = ending.clone();
        runner::fill(&mut record, &records[i], &errors[i]);
        write(ctx, &record);
    }
    Ok(alone)
}

/// The signatures of what memcheck reports for the binary running no
/// test: libtest's and the runtime's own.
fn baseline(ctx: &Context, suite: &Suite) -> Result<BTreeSet<String>, String> {
    let id = ctx.ids.fetch_add(1, Ordering::Relaxed);
    let xml_path = ctx.dir.join(format!("memcheck-baseline-{id}.xml"));
    let mut cmd = command(ctx, suite, &[], &xml_path, false);
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    cmd.status()
        .map_err(|e| format!("cannot run valgrind for the baseline: {e}"))?;
    let text = std::fs::read_to_string(&xml_path);
    let _ = std::fs::remove_file(&xml_path);
    let text = text.map_err(|e| format!("the baseline's XML: {e}"))?;
    let parsed = xml::parse(&text)?;
    let mut out: BTreeSet<String> = parsed
        .records
        .iter()
        .map(|r| signature(&format!("{:?}", r.kind), &r.stack))
        .collect();
    out.extend(parsed.errors.iter().map(|e| signature(&e.kind, &e.frames)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(f: &str) -> Frame {
        Frame {
            function: Some(f.into()),
            ..Frame::default()
        }
    }

    #[test]
    fn a_record_is_blamed_on_the_outermost_test_frame_closures_included() {
        let names: HashMap<String, usize> = [("demo::tests::a", 0), ("demo::tests::b", 1)]
            .into_iter()
            .map(|(n, i)| (n.to_owned(), i))
            .collect();
        let stack = [
            frame("malloc"),
            frame("demo::tests::a"),
            frame("demo::tests::b::{{closure}}"),
            frame("core::ops::function::FnOnce::call_once"),
        ];
        assert_eq!(owner(&stack, &names), Some(1));
        // A helper of the same last name in another module is not the test.
        let other = [frame("malloc"), frame("demo::util::a"), frame("main")];
        assert_eq!(owner(&other, &names), None);
        assert_eq!(
            function_of(&frame("k::t::{closure#0}::{closure#1}")),
            Some("k::t")
        );
    }

    #[test]
    fn libtest_lines_give_starts_and_results_of_known_tests_only() {
        let known: BTreeSet<&str> = ["tests::a", "b"].into_iter().collect();
        assert_eq!(
            test_line("test tests::a ... ok", &known),
            Some(("tests::a", "ok"))
        );
        assert_eq!(test_line("test b ... ", &known), Some(("b", "")));
        assert_eq!(test_line("test c ... ok", &known), None);
        assert_eq!(libtest_ending("FAILED"), Some(Ending::Failed(101)));
        assert_eq!(libtest_ending("output from C ok"), Some(Ending::Passed));
        assert_eq!(libtest_ending("ignored"), None);
    }

    #[test]
    fn nextest_s_listing_gives_the_selected_tests_and_the_crate_name() {
        let json = r#"{"rust-build-meta":{"target-directory":"/t","base-output-directories":["debug"],
            "linked-paths":["debug/build/x/out"]},
          "rust-suites":{"my-crate":{"package-name":"my-crate","binary-name":"my-crate",
            "package-id":"path+file:///c#my-crate@1.2.3","binary-path":"/t/debug/deps/my_crate-1",
            "cwd":"/c","testcases":{
              "a":{"ignored":false,"filter-match":{"status":"matches"}},
              "b":{"ignored":false,"filter-match":{"status":"mismatch"}},
              "c":{"ignored":true,"filter-match":{"status":"mismatch"}}}}}}"#;
        let listed = parse_listing(json).unwrap();
        let s = &listed.suites[0];
        assert_eq!(s.krate, "my_crate");
        assert_eq!(s.version, "1.2.3");
        assert_eq!(s.tests, ["a"]);
        assert!(!s.all && !s.runs_ignored);
        assert!(
            listed
                .lib_dirs
                .contains(&PathBuf::from("/t/debug/build/x/out"))
        );
    }
}

//! `cargo leaklab test`: any crate's test suite, each test in its own
//! process under a leak detector, and a table of what each test lost.
//!
//! cargo-nextest is the engine: it builds the test binaries, lists them,
//! runs one process per test on every core (`--jobs`, `--partition`), and
//! starts each through the target runner this sets,
//! `CARGO_TARGET_<TRIPLE>_RUNNER="leaklab __test-runner"` ([`runner`]).
//! The runner measures its test and leaves a record in a directory this
//! reads back ([`record`]); [`report`] prints the table and decides the
//! exit code.
//!
//! Detectors:
//! - `counters` (default): the preload shim ([`crate::shim`], embedded in
//!   this binary) counts the test
//!   process's malloc heap; what is left at exit beyond the binary's own
//!   baseline (the same binary running no test) is kept. Near full speed.
//!   A test that kept memory is run once more under memcheck, which names
//!   the sides, the kinds and the stack (if valgrind is installed).
//! - `valgrind`: every test under memcheck, its XML read back.
//! - `lsan`: the crate rebuilt with `-Zsanitizer=leak` (nightly) in
//!   `leaklab-lsan` under its own target directory ([`lsan_target_dir`]),
//!   each test's LeakSanitizer report read back.

pub mod binary;
pub mod record;
pub mod report;
pub mod runner;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use record::{Listing, TestRecord};

/// Environment the runner reads, set by [`run`] for nextest's children.
pub mod env {
    /// The directory records go to.
    pub const DIR: &str = "LEAKLAB_SUITE_DIR";
    /// `counters`, `valgrind` or `lsan`.
    pub const DETECTOR: &str = "LEAKLAB_SUITE_DETECTOR";
    /// memcheck suppression files, `:`-separated.
    pub const SUPPRESSIONS: &str = "LEAKLAB_SUITE_SUPPRESSIONS";
    /// LeakSanitizer suppression files, `:`-separated.
    pub const LSAN_SUPPRESSIONS: &str = "LEAKLAB_SUITE_LSAN_SUPPRESSIONS";
    /// Set: memcheck generates suppressions for what it finds.
    pub const GEN_SUPPRESSIONS: &str = "LEAKLAB_SUITE_GEN_SUPPRESSIONS";
    /// The preload shim the counters load, found once by [`super::run`].
    pub const SHIM: &str = "LEAKLAB_SUITE_SHIM";
    /// Per-test time limit in seconds of a native run (0: none).
    pub const TIMEOUT: &str = "LEAKLAB_SUITE_TIMEOUT";
    /// Per-test time limit in seconds of a run under memcheck (0: none).
    pub const TIMEOUT_MEMCHECK: &str = "LEAKLAB_SUITE_TIMEOUT_MEMCHECK";
    /// Set on `cargo test --doc`: the runner's process is a doctest's.
    pub const DOCTESTS: &str = "LEAKLAB_SUITE_DOCTESTS";
}

/// Which detector measures each test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Detector {
    Counters,
    Valgrind,
    Lsan,
}

impl Detector {
    pub fn name(self) -> &'static str {
        match self {
            Detector::Counters => "counters",
            Detector::Valgrind => "valgrind",
            Detector::Lsan => "lsan",
        }
    }

    pub fn from_name(name: &str) -> Option<Detector> {
        [Detector::Counters, Detector::Valgrind, Detector::Lsan]
            .into_iter()
            .find(|d| d.name() == name)
    }
}

/// The lab's memcheck suppressions for Rust's runtime, libtest's and the
/// bound C libraries' one-off allocations (still reachable at exit), built
/// in, so they apply to any crate.
pub(crate) const LAB_SUPPRESSIONS: [(&str, &str); 3] = [
    (
        "rust-runtime.supp",
        include_str!("../../valgrind/rust-runtime.supp"),
    ),
    (
        "rust-test-harness.supp",
        include_str!("../../valgrind/rust-test-harness.supp"),
    ),
    (
        "c-libraries.supp",
        include_str!("../../valgrind/c-libraries.supp"),
    ),
];

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    pub detector: Detector,
    /// Passed to `cargo nextest run` as they are (`-p`, `--features`,
    /// filters, `--partition`, `-- ARGS`).
    pub nextest_args: Vec<OsString>,
    pub jobs: Option<usize>,
    /// The user's memcheck (or, for lsan, LeakSanitizer) suppression files.
    pub suppressions: Vec<PathBuf>,
    pub gen_suppressions: bool,
    /// Per-test time limit in seconds (`--timeout`); `None`: the default
    /// ([`DEFAULT_TIMEOUT`], times [`MEMCHECK_SLOWDOWN`] under memcheck);
    /// `Some(0)`: none.
    pub timeout: Option<u64>,
    /// `--no-doctests`: the doctests are counted, not run.
    pub no_doctests: bool,
    /// `--memcheck-per-test`: under `--detector valgrind`, one memcheck
    /// process per test (nextest's), not one per test binary ([`binary`]).
    pub memcheck_per_test: bool,
    /// Which kinds fail the run: the per-binary run re-runs per test what
    /// no test frame places only if it counts.
    pub fail_on: report::FailOn,
}

/// The per-test time limit of a native run, in seconds, when `--timeout`
/// is not given.
pub const DEFAULT_TIMEOUT: u64 = 120;

/// How much longer a test may run under memcheck than natively.
pub const MEMCHECK_SLOWDOWN: u64 = 5;

/// The per-test limits (native, under memcheck) in seconds, 0 for none:
/// `--timeout` is the limit of a test under the chosen detector; a
/// counters' re-run under memcheck gets [`MEMCHECK_SLOWDOWN`] times it.
pub fn limits(detector: Detector, timeout: Option<u64>) -> (u64, u64) {
    match (detector, timeout) {
        (Detector::Valgrind, Some(t)) => (t, t),
        (_, t) => {
            let native = t.unwrap_or(DEFAULT_TIMEOUT);
            (native, native.saturating_mul(MEMCHECK_SLOWDOWN))
        }
    }
}

/// How the run went, before judging.
#[derive(Debug)]
pub struct SuiteRun {
    pub detector: Detector,
    pub records: Vec<TestRecord>,
    pub listings: Vec<Listing>,
    /// nextest's own exit code.
    pub nextest_code: i32,
    /// The crate's doctests, which nextest does not run.
    pub doctests: Doctests,
}

/// The doctests nextest leaves out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Doctests {
    /// Run by `cargo test --doc` through the same runner (cargo gives
    /// rustdoc the target runner): this many doctest processes (edition
    /// 2024 merges a crate's doctests into one), and cargo's exit code.
    Ran { processes: usize, code: i32 },
    /// Not run (`--detector lsan`: rustdoc does not build them with the
    /// sanitizer): this many, by `cargo test --doc -- --list`.
    Counted(usize),
    /// They could not be listed: why.
    Unknown(String),
}

/// Runs the doctests of the packages the nextest arguments select, with
/// `cargo test --doc`, in the environment nextest had (the target runner,
/// which cargo hands rustdoc, and the runner's settings): each doctest
/// process is measured and leaves a record, as a test does. `before`: the
/// records nextest's run left.
fn run_doctests(
    nextest: &Command,
    nextest_args: &[OsString],
    dir: &Path,
    before: usize,
) -> Result<Doctests, String> {
    let mut cmd = cargo(None);
    cmd.args(["test", "--doc"])
        .args(doc_args(nextest_args))
        .stdin(Stdio::null());
    for (key, value) in nextest.get_envs() {
        match value {
            Some(value) => cmd.env(key, value),
            None => cmd.env_remove(key),
        };
    }
    cmd.env(env::DOCTESTS, "1");
    // Line tables, so a doctest's frames name its file and line.
    let mut flags = std::env::var("RUSTDOCFLAGS").unwrap_or_default();
    flags.push_str(" -C debuginfo=line-tables-only");
    cmd.env("RUSTDOCFLAGS", flags.trim());
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run cargo test --doc: {e}"))?;
    // Its output is the run's, like nextest's: to stderr.
    use std::io::Write;
    let _ = std::io::stderr().write_all(&out.stdout);
    let _ = std::io::stderr().write_all(&out.stderr);
    let err = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() && err.contains("no library targets found") {
        return Ok(Doctests::Counted(0));
    }
    let processes = record::read_dir(dir)?.0.len().saturating_sub(before);
    let code = out.status.code().unwrap_or(101);
    if processes == 0 && code != 0 {
        let line = err
            .lines()
            .find(|l| l.starts_with("error"))
            .unwrap_or("cargo test --doc failed");
        return Ok(Doctests::Unknown(line.trim().to_owned()));
    }
    Ok(Doctests::Ran { processes, code })
}

/// Counts the doctests of the packages the nextest arguments select:
/// `cargo test --doc ARGS -- --list --format terse` (rustdoc lists them
/// without running them), with the arguments that select and build
/// packages passed on.
pub fn count_doctests(nextest_args: &[OsString]) -> Doctests {
    let mut cmd = cargo(None);
    cmd.args(["test", "--doc"])
        .args(doc_args(nextest_args))
        .args(["--", "--list", "--format", "terse"])
        .stdin(Stdio::null());
    let out = match cmd.output() {
        Ok(out) => out,
        Err(e) => return Doctests::Unknown(format!("cannot run cargo test --doc: {e}")),
    };
    let err = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        if err.contains("no library targets found") {
            return Doctests::Counted(0);
        }
        let line = err
            .lines()
            .find(|l| l.starts_with("error"))
            .unwrap_or("cargo test --doc -- --list failed");
        return Doctests::Unknown(line.trim().to_owned());
    }
    Doctests::Counted(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.ends_with(": test"))
            .count(),
    )
}

/// Of the nextest arguments, those `cargo test --doc` takes as they are:
/// the packages, features, profile, target and manifest.
fn doc_args(args: &[OsString]) -> Vec<OsString> {
    const WITH_VALUE: [&str; 8] = [
        "-p",
        "--package",
        "--exclude",
        "--manifest-path",
        "-F",
        "--features",
        "--target-dir",
        "--target",
    ];
    const FLAGS: [&str; 9] = [
        "--workspace",
        "--all",
        "--all-features",
        "--no-default-features",
        "--release",
        "--frozen",
        "--locked",
        "--offline",
        "-r",
    ];
    let mut out = Vec::new();
    let mut iter = args.iter().take_while(|a| *a != "--");
    while let Some(arg) = iter.next() {
        let text = arg.to_string_lossy();
        if FLAGS.contains(&text.as_ref()) {
            out.push(arg.clone());
        } else if WITH_VALUE.contains(&text.as_ref()) {
            if let Some(value) = iter.next() {
                out.extend([arg.clone(), value.clone()]);
            }
        } else if text == "--cargo-profile" {
            if let Some(value) = iter.next() {
                out.extend([OsString::from("--profile"), value.clone()]);
            }
        } else if let Some(value) = text.strip_prefix("--cargo-profile=") {
            out.push(format!("--profile={value}").into());
        } else if WITH_VALUE.iter().any(|name| {
            text.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('=') || (name.len() == 2 && !rest.is_empty()))
        }) {
            // --features=x, -pname, -Fx
            out.push(arg.clone());
        }
    }
    out
}

/// nextest's exit codes this tells apart (nextest-metadata's
/// `NextestExitCode`).
pub mod nextest_code {
    pub const TEST_RUN_FAILED: i32 = 100;
    pub const BUILD_FAILED: i32 = 101;
    pub const NO_TESTS_RUN: i32 = 4;
    /// Its arguments refused: clap's usage error (2), an invalid filter
    /// expression (94), a setup error (96).
    pub const REFUSED: [i32; 3] = [2, 94, 96];
}

/// Ok if `cargo nextest` runs here; else how to install it.
pub fn nextest_available(toolchain: Option<&str>) -> Result<(), String> {
    let mut cmd = cargo(toolchain);
    let ok = cmd
        .args(["nextest", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        Ok(())
    } else {
        Err("cargo-nextest is not installed (cargo leaklab test runs each test in its own process through it); install it with: cargo install cargo-nextest --locked".into())
    }
}

fn cargo(toolchain: Option<&str>) -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    if let Some(toolchain) = toolchain {
        cmd = Command::new("rustup");
        cmd.args(["run", toolchain, "cargo"]);
    }
    cmd
}

/// Checks the detector can run here (one clear reason if not).
pub fn detector_available(detector: Detector) -> Result<(), String> {
    match detector {
        Detector::Counters => crate::watch::preload::locate()
            .map(drop)
            .map_err(|e| format!("the counters need the preload shim: {e}")),
        Detector::Valgrind => {
            let ok = Command::new("valgrind")
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success());
            if ok {
                Ok(())
            } else {
                Err("valgrind is not installed; install it with: apt-get install valgrind".into())
            }
        }
        Detector::Lsan => {
            let ok = Command::new("rustup")
                .args(["run", "nightly", "rustc", "--version"])
                .output()
                .is_ok_and(|o| o.status.success());
            if ok {
                Ok(())
            } else {
                Err("the lsan detector builds with -Zsanitizer=leak, which needs a nightly toolchain; install it with: rustup toolchain install nightly".into())
            }
        }
    }
}

/// Runs the suite; nextest's own output goes to stderr.
pub fn run(opts: &Options) -> Result<SuiteRun, String> {
    let toolchain = (opts.detector == Detector::Lsan).then_some("nightly");
    detector_available(opts.detector)?;
    nextest_available(toolchain)?;
    let lsan_dir = match opts.detector {
        Detector::Lsan => Some(lsan_target_dir(toolchain, &opts.nextest_args)?),
        _ => None,
    };
    let exe = this_executable()?;
    let exe = exe.to_string_lossy();
    if exe.contains(' ') {
        return Err(format!(
            "a target runner cannot be a path with a space: {exe}"
        ));
    }
    let dir = tempfile::Builder::new()
        .prefix("leaklab-test-")
        .tempdir()
        .map_err(|e| format!("a directory for the records: {e}"))?;
    let mut supp = Vec::new();
    for (name, text) in LAB_SUPPRESSIONS {
        let path = dir.path().join(name);
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        supp.push(path);
    }
    for user in &opts.suppressions {
        let user = std::fs::canonicalize(user)
            .map_err(|e| format!("--suppressions {}: {e}", user.display()))?;
        supp.push(user);
    }
    let target = env!("LEAKLAB_TARGET");
    let runner_var = format!(
        "CARGO_TARGET_{}_RUNNER",
        target.to_uppercase().replace('-', "_")
    );
    let mut cmd = cargo(toolchain);
    cmd.args(["nextest", "run", "--no-fail-fast"]);
    if let Some(jobs) = opts.jobs {
        cmd.arg(format!("--test-threads={jobs}"));
    }
    if let Some(lsan_dir) = &lsan_dir {
        // --target: build scripts and proc macros stay unsanitized; their
        // own directory, so the plain build is not rebuilt each time.
        cmd.args(["--target", target, "--target-dir"]).arg(lsan_dir);
        let mut flags = std::env::var("RUSTFLAGS").unwrap_or_default();
        flags.push_str(" -Zsanitizer=leak");
        cmd.env("RUSTFLAGS", flags.trim());
        let user: Vec<&PathBuf> = supp.iter().skip(LAB_SUPPRESSIONS.len()).collect();
        cmd.env(
            env::LSAN_SUPPRESSIONS,
            std::env::join_paths(user).map_err(|e| e.to_string())?,
        );
    } else {
        cmd.env(
            env::SUPPRESSIONS,
            std::env::join_paths(&supp).map_err(|e| e.to_string())?,
        );
    }
    let (native, memcheck) = limits(opts.detector, opts.timeout);
    cmd.env(env::TIMEOUT, native.to_string())
        .env(env::TIMEOUT_MEMCHECK, memcheck.to_string());
    if native > 0 {
        // The runner stops its own test at the limit and records it; this
        // is nextest's backstop, should the runner itself not return.
        let most = match opts.detector {
            Detector::Valgrind => memcheck,
            Detector::Counters => native.saturating_add(memcheck),
            Detector::Lsan => native,
        };
        let config = dir.path().join("nextest-leaklab.toml");
        std::fs::write(
            &config,
            format!(
                "[profile.default]\nslow-timeout = {{ period = \"{}s\", terminate-after = 1 }}\n",
                most.saturating_add(60)
            ),
        )
        .map_err(|e| format!("{}: {e}", config.display()))?;
        let mut flag = OsString::from("leaklab:");
        flag.push(config.as_os_str());
        cmd.arg("--tool-config-file").arg(flag);
    }
    let nextest_args = match lsan_dir {
        // The user's --target-dir is where leaklab-lsan went.
        Some(_) => without_option(&opts.nextest_args, "--target-dir"),
        None => opts.nextest_args.clone(),
    };
    cmd.args(&nextest_args)
        .env(runner_var, format!("{exe} __test-runner"))
        .env(env::DIR, dir.path())
        .env(env::DETECTOR, opts.detector.name());
    if opts.gen_suppressions {
        cmd.env(env::GEN_SUPPRESSIONS, "1");
    }
    // The tests' own `leaklab::check` names frames with ours, not binutils'
    // (which reads a test binary's whole DWARF first); the runs copying
    // nextest's environment (doctests, memcheck per binary) get it too.
    crate::symbolize::export_to(&mut cmd);
    if opts.detector == Detector::Counters {
        // Found (and written to the cache, if need be) once, here: the
        // runners, one per test, load that file.
        cmd.env(env::SHIM, crate::watch::preload::locate()?);
    }
    // nextest's progress and per-test lines to our stderr: stdout is the
    // table's (or the JSON's).
    cmd.stdout(std::io::stderr());
    let per_binary = (opts.detector == Detector::Valgrind && !opts.memcheck_per_test)
        .then(|| per_binary(&cmd, opts, dir.path(), &supp, memcheck))
        .transpose()?
        .flatten();
    let nextest_code = match per_binary {
        Some(code) => code,
        None => {
            let status = cmd
                .status()
                .map_err(|e| format!("cannot run cargo nextest: {e}"))?;
            status.code().unwrap_or(nextest_code::TEST_RUN_FAILED)
        }
    };
    let ran = record::read_dir(dir.path())?.0.len();
    let doctests = if ran == 0
        && (nextest_code == nextest_code::BUILD_FAILED
            || nextest_code::REFUSED.contains(&nextest_code))
    {
        Doctests::Unknown("nothing ran".into())
    } else if opts.detector == Detector::Lsan || opts.no_doctests {
        count_doctests(&opts.nextest_args)
    } else {
        run_doctests(&cmd, &opts.nextest_args, dir.path(), ran)?
    };
    let (records, listings) = record::read_dir(dir.path())?;
    let mut run = SuiteRun {
        detector: opts.detector,
        records,
        listings,
        nextest_code,
        doctests,
    };
    if opts.detector == Detector::Counters {
        second_look(&mut run, dir.path(), &supp);
    }
    Ok(run)
}

/// memcheck's look at each counted test whose scan found possibly lost
/// blocks beyond the runtime's own (the amount most of its binary's
/// processes show, [`report::runtime_floors`]): blocks reached only through
/// interior pointers, which the scan cannot call lost or reachable. What
/// memcheck says replaces the scan's verdict on that test's row; without
/// valgrind the row stays unsure and the summary names it.
fn second_look(run: &mut SuiteRun, dir: &Path, supp: &[PathBuf]) {
    let floors: std::collections::BTreeMap<String, record::Amount> = report::runtime_floors(run)
        .into_iter()
        .map(|(binary, floor)| (binary.to_owned(), floor))
        .collect();
    let undecided: std::collections::BTreeSet<String> = report::undecided_floors(run)
        .into_iter()
        .map(str::to_owned)
        .collect();
    let Ok(supp) = std::env::join_paths(supp) else {
        return;
    };
    // Any possibly lost amount other than the runtime's own: more blocks,
    // or as many but of other sizes (a runtime block that happened to be
    // gone in this process while the test kept one of its own); and any
    // at all where the floor is a tie (too few processes to tell).
    let unsure = |r: &TestRecord| {
        r.run_again.is_some()
            && r.heap_at_exit.is_some_and(|k| {
                if undecided.contains(&r.binary) {
                    return k.possible.blocks > 0;
                }
                floors.get(&r.binary).is_some_and(|f| {
                    k.possible.blocks > f.blocks
                        || (k.possible.blocks == f.blocks && k.possible.bytes != f.bytes)
                })
            })
    };
    if !run.records.iter().any(unsure) || detector_available(Detector::Valgrind).is_err() {
        return;
    }
    for record in run.records.iter_mut().filter(|r| unsure(r)) {
        let Some(again) = record.run_again.clone() else {
            continue;
        };
        let args: Vec<OsString> = again.args.iter().map(OsString::from).collect();
        // memcheck's verdict replaces the sites' (of a test that also lost
        // blocks), not adds to it; where memcheck fails, the counters'
        // verdict stays, with a note.
        let mut looked = record.clone();
        looked.c = record::Kinds::default();
        looked.rust = record::Kinds::default();
        looked.top_frame = None;
        looked.stacks_from = None;
        looked.lost_sites.clear();
        match runner::confirm_with(dir, &again.binary, &args, &mut looked, &supp) {
            Ok(()) => {
                looked.detector = "counters (possibly lost: memcheck)".into();
                *record = looked;
            }
            Err(e) => record.note = Some(format!("possibly lost blocks unchecked: {e}")),
        }
    }
}

/// `--detector valgrind`, one memcheck per test binary ([`binary`]):
/// `cargo nextest list` builds and lists (its filters applied, each
/// binary's `--list` through the runner, as for a run), then the binaries
/// run. The code nextest's run would have had; `None` when nextest's list
/// refuses what its run takes (a run-only flag): then nextest runs each
/// test under memcheck, as with `--memcheck-per-test`.
/// This executable's path, for the per-test runs. `cargo nextest list`
/// builds the workspace, and where that is leaklab's own (its features
/// unified otherwise than for `cargo build -p cargo-leaklab`) this very
/// binary is rebuilt while it runs: `/proc/self/exe` then reads
/// "PATH (deleted)", and the path names the new build.
fn this_executable() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("no path to this executable: {e}"))?;
    Ok(match exe.to_string_lossy().strip_suffix(" (deleted)") {
        Some(path) => PathBuf::from(path),
        None => exe,
    })
}

fn per_binary(
    nextest: &Command,
    opts: &Options,
    dir: &Path,
    supp: &[PathBuf],
    memcheck_limit: u64,
) -> Result<Option<i32>, String> {
    let (ours, binary_args) = match opts.nextest_args.iter().position(|a| a == "--") {
        Some(i) => (&opts.nextest_args[..i], opts.nextest_args[i + 1..].to_vec()),
        None => (&opts.nextest_args[..], Vec::new()),
    };
    let envs: Vec<(OsString, Option<OsString>)> = nextest
        .get_envs()
        .map(|(k, v)| (k.to_owned(), v.map(ToOwned::to_owned)))
        .collect();
    let mut list = cargo(None);
    list.args(["nextest", "list", "--message-format", "json"])
        .args(ours)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit());
    for (key, value) in &envs {
        match value {
            Some(value) => list.env(key, value),
            None => list.env_remove(key),
        };
    }
    let out = list
        .output()
        .map_err(|e| format!("cannot run cargo nextest list: {e}"))?;
    let code = out.status.code().unwrap_or(nextest_code::TEST_RUN_FAILED);
    if code == nextest_code::BUILD_FAILED {
        return Ok(Some(code));
    }
    if code != 0 {
        eprintln!(
            "leaklab: cargo nextest list did not take these arguments; one memcheck per test instead"
        );
        return Ok(None);
    }
    let listed = binary::parse_listing(&String::from_utf8_lossy(&out.stdout))?;
    if listed.suites.is_empty() {
        return Ok(Some(nextest_code::NO_TESTS_RUN));
    }
    let exe = this_executable()?;
    let ctx = binary::Context::new(
        dir.to_owned(),
        envs,
        exe,
        std::env::join_paths(supp).map_err(|e| e.to_string())?,
        opts.gen_suppressions,
        (memcheck_limit > 0).then(|| std::time::Duration::from_secs(memcheck_limit)),
        opts.fail_on,
        binary_args,
        listed.lib_dirs,
    );
    let jobs = opts.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    binary::run(&ctx, &listed.suites, jobs);
    let (records, _) = record::read_dir(dir)?;
    let passed = records.iter().all(|r| r.ending == record::Ending::Passed);
    Ok(Some(if passed {
        0
    } else {
        nextest_code::TEST_RUN_FAILED
    }))
}

/// Where `--detector lsan` builds: `leaklab-lsan` in the tested crate's
/// target directory, as `cargo metadata` reports it (so `CARGO_TARGET_DIR`,
/// `build.target-dir` and a `--manifest-path` or `--target-dir` among the
/// nextest arguments are honoured), whichever directory this runs in.
pub fn lsan_target_dir(
    toolchain: Option<&str>,
    nextest_args: &[OsString],
) -> Result<PathBuf, String> {
    const SUBDIR: &str = "leaklab-lsan";
    if let Some(dir) = option_value(nextest_args, "--target-dir") {
        return Ok(PathBuf::from(dir).join(SUBDIR));
    }
    let mut cmd = cargo(toolchain);
    cmd.args(["metadata", "--format-version", "1", "--no-deps"]);
    if let Some(manifest) = option_value(nextest_args, "--manifest-path") {
        cmd.arg("--manifest-path").arg(manifest);
    }
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run cargo metadata: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "cargo metadata failed (where the lsan build goes): {}",
            err.trim()
        ));
    }
    let metadata: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("cargo metadata's output: {e}"))?;
    let dir = metadata["target_directory"]
        .as_str()
        .ok_or("cargo metadata named no target_directory")?;
    Ok(PathBuf::from(dir).join(SUBDIR))
}

/// The value of `--name VALUE` or `--name=VALUE` among cargo's own
/// arguments (before a lone `--`, after which they are the test binary's).
fn option_value(args: &[OsString], name: &str) -> Option<OsString> {
    let mut args = args.iter().take_while(|a| *a != "--");
    while let Some(arg) = args.next() {
        if arg == name {
            return args.next().cloned();
        }
        let text = arg.to_string_lossy();
        if let Some(value) = text.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
            return Some(value.into());
        }
    }
    None
}

/// `args` without `--name VALUE` or `--name=VALUE` before a lone `--`.
fn without_option(args: &[OsString], name: &str) -> Vec<OsString> {
    let mut out = Vec::with_capacity(args.len());
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if arg == "--" {
            out.push(arg.clone());
            out.extend(args.by_ref().cloned());
            break;
        }
        if arg == name {
            args.next();
            continue;
        }
        let text = arg.to_string_lossy();
        if text.strip_prefix(name).is_some_and(|r| r.starts_with('=')) {
            continue;
        }
        out.push(arg.clone());
    }
    out
}

/// Suppressions for every record that counts as lost, deduplicated, named
/// after the test that produced them, in memcheck's file format.
pub fn write_suppressions(path: &Path, records: &[TestRecord]) -> Result<usize, String> {
    let mut seen = std::collections::BTreeSet::new();
    let mut out = String::new();
    for record in records {
        for (i, raw) in record.suppressions.iter().enumerate() {
            // The name line is memcheck's placeholder: the body is what matches.
            let body: String = raw.lines().skip(2).collect::<Vec<_>>().join("\n");
            if !seen.insert(body.clone()) {
                continue;
            }
            let kind = raw.lines().nth(2).unwrap_or("   Memcheck:Leak").trim();
            let rest: String = raw.lines().skip(3).collect::<Vec<_>>().join("\n");
            out.push_str(&format!(
                "{{\n   leaklab:{}:{}:{i}\n   {kind}\n{rest}\n",
                record.binary, record.test
            ));
        }
    }
    std::fs::write(path, &out)
        .map_err(|e| format!("--gen-suppressions {}: {e}", path.display()))?;
    Ok(seen.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn an_option_is_read_in_both_spellings_and_never_after_the_separator() {
        let get = |list: &[&str]| option_value(&args(list), "--manifest-path");
        assert_eq!(
            get(&["--manifest-path", "a/Cargo.toml"]),
            Some("a/Cargo.toml".into())
        );
        assert_eq!(
            get(&["-p", "x", "--manifest-path=b/Cargo.toml"]),
            Some("b/Cargo.toml".into())
        );
        assert_eq!(get(&["--", "--manifest-path", "c"]), None);
        assert_eq!(get(&["--manifest-path-not"]), None);
        assert_eq!(get(&["--manifest-path"]), None);
    }

    #[test]
    fn cargo_test_doc_gets_the_package_feature_and_profile_arguments_only() {
        assert_eq!(
            doc_args(&args(&[
                "-p",
                "a",
                "-pb",
                "--features=x",
                "--release",
                "--cargo-profile",
                "ci",
                "-E",
                "test(foo)",
                "some_filter",
                "--partition",
                "count:1/2",
                "--",
                "--workspace",
            ])),
            args(&[
                "-p",
                "a",
                "-pb",
                "--features=x",
                "--release",
                "--profile",
                "ci"
            ])
        );
    }

    #[test]
    fn an_option_is_dropped_in_both_spellings_but_not_after_the_separator() {
        let drop = |list: &[&str]| without_option(&args(list), "--target-dir");
        assert_eq!(
            drop(&["-p", "x", "--target-dir", "t", "--release"]),
            args(&["-p", "x", "--release"])
        );
        assert_eq!(drop(&["--target-dir=t", "f"]), args(&["f"]));
        assert_eq!(
            drop(&["--", "--target-dir", "t"]),
            args(&["--", "--target-dir", "t"])
        );
    }

    #[test]
    fn the_lsan_build_goes_under_the_crates_target_directory() {
        let krate = tempfile::tempdir().unwrap();
        std::fs::create_dir(krate.path().join("src")).unwrap();
        std::fs::write(
            krate.path().join("Cargo.toml"),
            "[package]\nname = \"t\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[workspace]\n",
        )
        .unwrap();
        std::fs::write(krate.path().join("src/lib.rs"), "").unwrap();
        let manifest = krate.path().join("Cargo.toml");
        let dir =
            lsan_target_dir(None, &[OsString::from("--manifest-path"), manifest.into()]).unwrap();
        // cargo's answer: CARGO_TARGET_DIR if this test runs with one set.
        let base = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| krate.path().join("target"));
        assert_eq!(dir, base.join("leaklab-lsan"));
        let given = lsan_target_dir(None, &args(&["--target-dir", "/t"])).unwrap();
        assert_eq!(given, PathBuf::from("/t/leaklab-lsan"));
    }
}

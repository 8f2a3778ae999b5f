//! `cargo leaklab run`: a package's binary (or example), built by cargo,
//! run once under a leak detector, and what it left at exit.
//!
//! - [`build`]: `cargo build --message-format=json-render-diagnostics`,
//!   the executable's path read from cargo's artifact messages.
//! - [`measure`]: one run of it, its standard input and output the
//!   user's, under the counters (the preload shim's scan at exit, the lost
//!   blocks' sides and stacks from its allocation sites, walked in that
//!   same run; memcheck runs a second time, quietly, only where the sites
//!   cannot decide) or under memcheck itself.
//!
//! The record is the test runner's ([`TestRecord`]), so a program reads
//! as one row of `cargo leaklab test`'s table.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::suite::record::{Amount, Ending, Kinds, TestRecord};
use crate::suite::runner::{self, Finished};
use crate::watch::preload::Channel;

/// Which detector watches the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Detector {
    Counters,
    Valgrind,
}

impl Detector {
    pub fn name(self) -> &'static str {
        match self {
            Detector::Counters => "counters",
            Detector::Valgrind => "valgrind",
        }
    }
}

/// Which target to build: a `[[bin]]`, an example, or the package's only
/// (or `default-run`) binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Bin(String),
    Example(String),
    Default,
}

/// Why nothing ran.
#[derive(Debug)]
pub enum BuildError {
    /// cargo said no (a compile error, an unknown package): its messages
    /// are above, on stderr.
    Failed,
    /// Bad input or a setup problem, in one line.
    Usage(String),
}

/// Builds `target` with cargo (`cargo_args`: `-p`, `--release`,
/// `--features`, `--manifest-path`...; cargo's own diagnostics go to
/// stderr) and returns the executable's path.
pub fn build(target: &Target, cargo_args: &[OsString]) -> Result<PathBuf, BuildError> {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.args(["build", "--message-format=json-render-diagnostics"]);
    match target {
        Target::Bin(name) => cmd.args(["--bin", name]),
        Target::Example(name) => cmd.args(["--example", name]),
        Target::Default => cmd.arg("--bins"),
    };
    cmd.args(cargo_args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let out = cmd
        .output()
        .map_err(|e| BuildError::Usage(format!("cannot run cargo build: {e}")))?;
    let messages = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        // cargo ends every build it starts with "build-finished"; none:
        // it refused its arguments (an unknown target, package or flag).
        let started = messages.lines().any(|l| l.contains("\"build-finished\""));
        return Err(if started {
            BuildError::Failed
        } else {
            BuildError::Usage("cargo refused to build (its message is above); nothing ran".into())
        });
    }
    let artifacts = executables(&messages);
    choose(target, &artifacts, || default_run(cargo_args))
}

/// An executable cargo built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    pub name: String,
    /// `bin` or `example`.
    pub kind: String,
    pub path: PathBuf,
}

/// The executables among cargo's JSON messages (one object a line).
pub fn executables(messages: &str) -> Vec<Artifact> {
    let mut out: Vec<Artifact> = Vec::new();
    for line in messages.lines() {
        let Ok(m) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if m["reason"] != "compiler-artifact" {
            continue;
        }
        let Some(path) = m["executable"].as_str() else {
            continue;
        };
        let kinds = m["target"]["kind"].as_array();
        let kind = kinds
            .into_iter()
            .flatten()
            .filter_map(|k| k.as_str())
            .find(|k| *k == "bin" || *k == "example");
        let (Some(kind), Some(name)) = (kind, m["target"]["name"].as_str()) else {
            continue;
        };
        let artifact = Artifact {
            name: name.to_owned(),
            kind: kind.to_owned(),
            path: PathBuf::from(path),
        };
        if !out.contains(&artifact) {
            out.push(artifact);
        }
    }
    out
}

/// The executable to run among those built; `default_run` names the
/// package's `default-run`, asked only when there are several binaries.
pub fn choose(
    target: &Target,
    artifacts: &[Artifact],
    default_run: impl FnOnce() -> Option<String>,
) -> Result<PathBuf, BuildError> {
    let (kind, wanted) = match target {
        Target::Bin(name) => ("bin", Some(name)),
        Target::Example(name) => ("example", Some(name)),
        Target::Default => ("bin", None),
    };
    let of_kind: Vec<&Artifact> = artifacts.iter().filter(|a| a.kind == kind).collect();
    if let Some(name) = wanted {
        return of_kind
            .iter()
            .find(|a| &a.name == name)
            .map(|a| a.path.clone())
            .ok_or_else(|| BuildError::Usage(format!("cargo built no {kind} named '{name}'")));
    }
    match of_kind.as_slice() {
        [] => Err(BuildError::Usage(
            "the package has no binary target to run (use --example NAME for an example)".into(),
        )),
        [one] => Ok(one.path.clone()),
        several => {
            if let Some(default) = default_run()
                && let Some(a) = several.iter().find(|a| a.name == default)
            {
                return Ok(a.path.clone());
            }
            let names: Vec<&str> = several.iter().map(|a| a.name.as_str()).collect();
            Err(BuildError::Usage(format!(
                "several binaries ({}): choose one with --bin NAME, or set default-run in Cargo.toml",
                names.join(", ")
            )))
        }
    }
}

/// The `default-run` of the package `cargo_args` select (`-p NAME`, else
/// the one in the current directory or `--manifest-path`), if it has one.
fn default_run(cargo_args: &[OsString]) -> Option<String> {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.args(["metadata", "--format-version", "1", "--no-deps"]);
    let value = |name: &str| {
        let i = cargo_args.iter().position(|a| a == name)?;
        cargo_args.get(i + 1).cloned()
    };
    if let Some(manifest) = value("--manifest-path") {
        cmd.arg("--manifest-path").arg(manifest);
    }
    let out = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let package = value("-p").or_else(|| value("--package"));
    let packages = metadata["packages"].as_array()?;
    let chosen = match package {
        Some(name) => packages
            .iter()
            .find(|p| p["name"].as_str() == Some(&*name.to_string_lossy()))?,
        // The package whose directory holds the manifest (or the current
        // directory), the innermost.
        None => {
            let here = match value("--manifest-path") {
                Some(m) => std::fs::canonicalize(m).ok()?.parent()?.to_path_buf(),
                None => std::env::current_dir().ok()?,
            };
            packages
                .iter()
                .filter_map(|p| {
                    let dir = Path::new(p["manifest_path"].as_str()?).parent()?;
                    here.starts_with(dir)
                        .then_some((dir.components().count(), p))
                })
                .max_by_key(|(depth, _)| *depth)?
                .1
        }
    };
    chosen["default_run"].as_str().map(str::to_owned)
}

/// Where the program's standard output goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stdout {
    /// Ours: the user sees it where they would.
    Inherit,
    /// Our stderr (under `--json`, stdout is the JSON's).
    ToStderr,
}

impl Stdout {
    fn set(self, cmd: &mut Command) {
        if self == Stdout::ToStderr {
            cmd.stdout(std::io::stderr());
        }
    }
}

/// Runs `program args` once under `detector` and records what it left.
/// `suppressions`: memcheck suppression files (the lab's and the user's).
/// `Err`: the detector could not start at all.
pub fn measure(
    detector: Detector,
    program: &Path,
    args: &[OsString],
    suppressions: &[PathBuf],
    stdout: Stdout,
    sites: Sites,
) -> Result<TestRecord, String> {
    let dir = tempfile::Builder::new()
        .prefix("leaklab-run-")
        .tempdir()
        .map_err(|e| format!("a directory for memcheck's report: {e}"))?;
    let xml = dir.path().join("memcheck.xml");
    let name = program
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    match detector {
        Detector::Valgrind => {
            let mut record = runner::empty(program, &name, "valgrind");
            let mut cmd = memcheck(program, args, &xml, suppressions)?;
            stdout.set(&mut cmd);
            let (finished, _, _) = runner::run_limited(&mut cmd, None, false)
                .map_err(|e| format!("cannot run valgrind: {e}"))?;
            record.ending = runner::finished_ending(&finished);
            if let Err(e) = runner::read_memcheck(&xml, &mut record) {
                record.ending = Ending::NotMeasured(e);
            }
            Ok(record)
        }
        Detector::Counters => counters(program, &name, args, &xml, suppressions, stdout, sites),
    }
}

/// Whether the counters' run walks every allocation's stack (about 4 µs
/// each) to name lost blocks by their sites, or leaves the stacks to a
/// memcheck run after it, only when something was lost (`--no-sites`: for
/// a program that allocates much and is expected clean).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sites {
    Walked,
    LeftToMemcheck,
}

/// memcheck on `program args`, its XML to `xml`; stdio inherited. The
/// same command as a test's (`runner::memcheck_command`), 40 callers.
fn memcheck(
    program: &Path,
    args: &[OsString],
    xml: &Path,
    suppressions: &[PathBuf],
) -> Result<Command, String> {
    let supp = std::env::join_paths(suppressions)
        .map_err(|e| format!("a suppressions file's path: {e}"))?;
    let mut cmd = runner::memcheck_command(xml, 40, &supp, false);
    cmd.arg(program).args(args);
    crate::symbolize::export_to(&mut cmd);
    Ok(cmd)
}

/// The counters' run: the shim counts the heap, walks every allocation's
/// stack into its site table (exact sites, no sampling) and scans at
/// exit, as a test's re-run does (`runner::by_sites`), but in the one run
/// the user sees: the program is not run twice for its stacks. Lost
/// blocks are named by their sites ([`crate::sites::SiteFiles::blame`]);
/// where the sites cannot decide (more than one thread at exit, a lost
/// block without a stack, no scan), by memcheck in a second run that gets
/// no input and whose output is dropped (the user's program may have
/// effects).
fn counters(
    program: &Path,
    name: &str,
    args: &[OsString],
    xml: &Path,
    suppressions: &[PathBuf],
    stdout: Stdout,
    sites: Sites,
) -> Result<TestRecord, String> {
    let mut record = runner::empty(program, name, "counters");
    let shim = crate::watch::preload::locate()
        .map_err(|e| format!("the counters need the preload shim: {e}"))?;
    let channel = Channel::open(shim, std::time::Duration::ZERO)
        .map_err(|e| format!("the shim's page: {e}"))?;
    let files =
        crate::sites::SiteFiles::create().map_err(|e| format!("a directory for sites: {e}"))?;
    let mut cmd = Command::new(program);
    cmd.args(args);
    // The program's own `leaklab::check`, if it has one, names with ours.
    crate::symbolize::export_to(&mut cmd);
    channel.configure(&mut cmd);
    if sites == Sites::Walked {
        files.configure(&mut cmd, 0);
    }
    // glibc writes its abort messages to stderr, not to the terminal.
    cmd.env("LIBC_FATAL_STDERR_", "1");
    stdout.set(&mut cmd);
    let (finished, stderr, pid) = runner::run_limited(&mut cmd, None, true)
        .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
    let heap = match finished {
        Finished::Exited(_) => channel.read_at_exit(pid),
        Finished::TimedOut(_) => None,
    };
    record.ending = runner::finished_ending(&finished);
    let rerun = |record: &mut TestRecord| -> Result<(), String> {
        crate::suite::detector_available(crate::suite::Detector::Valgrind)?;
        let mut cmd = memcheck(program, args, xml, suppressions)?;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        runner::run_limited(&mut cmd, None, false)
            .map_err(|e| format!("cannot run valgrind: {e}"))?;
        runner::read_memcheck(xml, record).map_err(|e| format!("memcheck's run failed: {e}"))
    };
    if let Some(abort) = runner::glibc_abort(&record.ending, &stderr) {
        // memcheck names the stacks of the bad free (and does not abort).
        match rerun(&mut record) {
            Ok(()) if !record.memory_errors.is_empty() => {
                record.detector = "counters (memory error: memcheck)".into();
            }
            Ok(()) => record.memory_errors = vec![abort],
            Err(e) => {
                record.memory_errors = vec![abort];
                record.note = Some(format!("no stacks: {e}"));
            }
        }
        return Ok(record);
    }
    let Some(heap) = heap else {
        record.note = Some("the process did not reach exit(): nothing counted at exit".into());
        return Ok(record);
    };
    if heap.allocations == 0 {
        // Its own malloc won over the shim's and is no copy of leaklab's
        // interposer.
        return match rerun(&mut record) {
            Ok(()) => {
                record.detector = "valgrind (counters bypassed)".into();
                Ok(record)
            }
            Err(e) => {
                record.ending = Ending::NotMeasured(format!(
                    "the counters cannot see this program (its malloc is neither the shim's nor leaklab's), and memcheck could not stand in: {e}"
                ));
                Ok(record)
            }
        };
    }
    let amount = |h: crate::watch::sample::Heap| Amount {
        blocks: h.blocks,
        bytes: h.bytes,
    };
    let (lost, possible) = (amount(heap.lost), amount(heap.possible));
    record.heap_at_exit = Some(Kinds {
        lost,
        possible,
        reachable: Amount {
            blocks: heap.live.blocks - lost.blocks - possible.blocks,
            bytes: heap.live.bytes - lost.bytes - possible.bytes,
        },
    });
    if lost.is_zero() {
        return Ok(record);
    }
    let unsure = match sites {
        Sites::LeftToMemcheck => "stacks not walked (--no-sites)".to_owned(),
        Sites::Walked => match files.blame(pid, lost) {
            Ok(sites) => {
                record.fill_from_sites(sites);
                record.detector = runner::COUNTERS_SITES.into();
                return Ok(record);
            }
            Err(why) => why,
        },
    };
    match rerun(&mut record) {
        Err(e) => record.note = Some(format!("sides unknown: {unsure}; and {e}")),
        Ok(()) => {
            record.detector = "counters (sides: memcheck)".into();
            record.note = Some(format!("{unsure}: memcheck named the sides"));
        }
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn artifact(name: &str, kind: &str) -> Artifact {
        Artifact {
            name: name.into(),
            kind: kind.into(),
            path: PathBuf::from(format!("/t/{name}")),
        }
    }

    #[test]
    fn cargo_s_messages_give_the_executables_once_each() {
        let messages = r#"{"reason":"compiler-artifact","target":{"kind":["lib"],"name":"demo"},"executable":null}
{"reason":"compiler-artifact","target":{"kind":["bin"],"name":"demo"},"executable":"/t/demo","fresh":true}
{"reason":"compiler-artifact","target":{"kind":["example"],"name":"ex"},"executable":"/t/examples/ex"}
{"reason":"compiler-artifact","target":{"kind":["bin"],"name":"demo"},"executable":"/t/demo"}
not json
{"reason":"build-finished","success":true}"#;
        let found = executables(messages);
        assert_eq!(
            found,
            vec![
                Artifact {
                    name: "demo".into(),
                    kind: "bin".into(),
                    path: "/t/demo".into()
                },
                Artifact {
                    name: "ex".into(),
                    kind: "example".into(),
                    path: "/t/examples/ex".into()
                },
            ]
        );
    }

    #[test]
    fn the_binary_is_the_named_one_the_only_one_or_the_default_run() {
        let built = [
            artifact("a", "bin"),
            artifact("b", "bin"),
            artifact("e", "example"),
        ];
        let path = |r: Result<PathBuf, BuildError>| match r {
            Ok(p) => p.display().to_string(),
            Err(BuildError::Usage(m)) => m,
            Err(BuildError::Failed) => "failed".into(),
        };
        assert_eq!(
            path(choose(&Target::Bin("b".into()), &built, || None)),
            "/t/b"
        );
        assert_eq!(
            path(choose(&Target::Example("e".into()), &built, || None)),
            "/t/e"
        );
        // An example is not a bin.
        assert_eq!(
            path(choose(&Target::Bin("e".into()), &built, || None)),
            "cargo built no bin named 'e'"
        );
        assert!(
            path(choose(&Target::Default, &built, || None)).contains("several binaries (a, b)")
        );
        assert_eq!(
            path(choose(&Target::Default, &built, || Some("b".into()))),
            "/t/b"
        );
        assert_eq!(
            path(choose(&Target::Default, &built[..1], || panic!(
                "not asked"
            ))),
            "/t/a"
        );
        assert!(path(choose(&Target::Default, &built[2..], || None)).contains("no binary target"));
    }
}

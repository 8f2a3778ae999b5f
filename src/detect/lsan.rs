//! LeakSanitizer as a detector. The lab is built once, instrumented, with
//!
//! ```text
//! RUSTFLAGS="-Zsanitizer=leak" cargo +nightly build --release \
//!     --target x86_64-unknown-linux-gnu --target-dir target/lsan --bin leaklab-lab
//! ```
//!
//! (`--target` keeps build scripts and proc macros uninstrumented; cargo
//! decides whether the binary is up to date; `cargo +nightly lsan`, the
//! alias in .cargo/config.toml, makes the same build), and the instrumented binary
//! runs the child with
//! `LSAN_OPTIONS=exitcode=23:use_registers=0:max_leaks=0:malloc_context_size=30`.
//! At exit LSan prints "Direct leak of N byte(s) in M object(s) allocated
//! from:" records with their stacks; they are read back and put on a side
//! by their stacks ([`super::at_exit::attribution`]), then compared
//! exactly with the declared leak, scaled like valgrind's
//! ([`super::at_exit::expect`]: the priming iteration, the C header).
//!
//! Differences from valgrind, all by design of LSan:
//! - memory still reachable from a global (growing-cache) is not a leak to
//!   LSan and is not reported: a reachable expectation expects nothing;
//! - LSan has no "possibly lost"; a cycle of leaked blocks (rc-cycle,
//!   ffi-cycle) is all "indirect", no block being unreferenced: direct plus
//!   indirect is what is compared;
//! - `use_registers=0`: by default LSan treats the registers of every
//!   thread at exit as roots, and a leftover pointer to the last
//!   iteration's blocks in a callee-saved register hides them (ffi-cycle
//!   lost one iteration that way, unfreed-result four blocks). Nothing
//!   live is held in a register after `main` has returned.
//!
//! It needs the nightly toolchain (with its LSan runtime) and
//! `llvm-symbolizer` on PATH (Debian's `llvm` package) to name frames.

use std::io::{BufRead, BufReader, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde::Serialize;

pub use cargo_leaklab::parse::lsan::{LeakClass, LsanLeak, parse};

/// LSan's closing summary line as an amount.
fn summary_of(stderr: &str) -> Option<Amount> {
    cargo_leaklab::parse::lsan::summary(stderr).map(|(blocks, bytes)| Amount { blocks, bytes })
}

use super::at_exit::attribution::Side;
use super::at_exit::expect::{self, Amount, AtExit, SideAmounts};
use super::at_exit::{self as checker, Checker, ChildSummary, Sides, Totals, Workload, tail};
use super::{Outcome, Request};
use crate::run::isolate::{Limits, run_child_of};

pub const NAME: &str = "lsan";

/// The target the instrumented build is for (LSan's runtime exists for a
/// few targets only; this is the lab's).
pub const TARGET: &str = "x86_64-unknown-linux-gnu";

/// The exit code LSan gives a process it found leaking.
pub const LEAK_EXIT_CODE: i32 = 23;

/// The child's LeakSanitizer options (see the module documentation).
pub const OPTIONS: &str = "exitcode=23:use_registers=0:max_leaks=0:malloc_context_size=30";

const NIGHTLY_MISSING: &str =
    "the nightly toolchain is not installed; install it with: rustup toolchain install nightly";
const SYMBOLIZER_MISSING: &str = "llvm-symbolizer is not installed (LeakSanitizer needs it to name stack \
     frames); install it with: apt-get install llvm";

/// Ok if the instrumented lab can be built and run here; else why not.
pub fn available() -> Result<(), String> {
    if !cfg!(all(target_os = "linux", target_arch = "x86_64")) {
        return Err(format!("LeakSanitizer runs here only on {TARGET}"));
    }
    let sysroot = command_output(Command::new("rustc").args(["+nightly", "--print", "sysroot"]))
        .map_err(|e| format!("{NIGHTLY_MISSING} ({e})"))?;
    let runtime = Path::new(sysroot.trim())
        .join("lib/rustlib")
        .join(TARGET)
        .join("lib/librustc-nightly_rt.lsan.a");
    if !runtime.is_file() {
        return Err(format!(
            "nightly has no LeakSanitizer runtime for {TARGET} ({} is missing)",
            runtime.display()
        ));
    }
    command_output(Command::new("llvm-symbolizer").arg("--version"))
        .map_err(|e| format!("{SYMBOLIZER_MISSING} ({e})"))?;
    Ok(())
}

/// Standard output of a command that must succeed.
fn command_output(command: &mut Command) -> Result<String, String> {
    let output = command.output().map_err(|e| e.to_string())?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).trim().to_owned());
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// target/lsan in the source tree this lab was built from.
pub fn target_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/lsan")
}

/// Where the instrumented leaklab binary is built.
pub fn binary() -> PathBuf {
    target_dir().join(TARGET).join("release/leaklab-lab")
}

/// Builds the instrumented binary (cargo decides if it is up to date),
/// once per process: later calls, from any thread, get the first call's
/// outcome (a failed build is not retried, it would fail the same way and
/// take as long). Returns its path.
///
/// The build can take minutes, so it shows progress on stderr: a spinner
/// with cargo's latest "Compiling ..." line on a terminal, one line at the
/// start and one at the end otherwise. The CLI calls this before its own
/// spinners start, so the two never draw at once.
pub fn build() -> Result<PathBuf, String> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT.get_or_init(build_now).clone()
}

fn build_now() -> Result<PathBuf, String> {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut child = Command::new("cargo")
        .args([
            "+nightly",
            "build",
            "--release",
            "--target",
            TARGET,
            "--bin",
            "leaklab-lab",
        ])
        // The same scenarios as this build: the MariaDB ones with their feature.
        .args(if cfg!(feature = "mariadb") {
            &["--features", "mariadb"][..]
        } else {
            &[]
        })
        .arg("--target-dir")
        .arg(target_dir())
        .arg("--manifest-path")
        .arg(manifest_dir.join("Cargo.toml"))
        .current_dir(manifest_dir)
        .env("RUSTFLAGS", "-Zsanitizer=leak")
        // An outer cargo's settings would override or confuse this build.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTC")
        .env_remove("RUSTUP_TOOLCHAIN")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run cargo +nightly: {e}"))?;
    let progress = BuildProgress::start();
    let mut stderr = String::new();
    if let Some(pipe) = child.stderr.take() {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            progress.saw(&line);
            stderr.push_str(&line);
            stderr.push('\n');
        }
    }
    let status = child
        .wait()
        .map_err(|e| format!("waiting for cargo +nightly failed: {e}"))?;
    progress.finish(status.success());
    if !status.success() {
        return Err(format!(
            "building the LeakSanitizer lab failed: {}",
            tail(&stderr)
        ));
    }
    let path = binary();
    if !path.is_file() {
        return Err(format!("cargo built no {}", path.display()));
    }
    Ok(path)
}

/// The build's progress on stderr (see [`build`]).
struct BuildProgress {
    bar: Option<indicatif::ProgressBar>,
    started: Instant,
}

impl BuildProgress {
    fn start() -> BuildProgress {
        // Minutes for a first build; a rebuild check is seconds.
        let what = if binary().is_file() {
            format!(
                "checking the LeakSanitizer lab is up to date (cargo +nightly, {})",
                target_dir().display()
            )
        } else {
            format!(
                "building the LeakSanitizer lab (cargo +nightly, {}; a first build takes minutes)",
                target_dir().display()
            )
        };
        let bar = if std::io::stderr().is_terminal() {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {msg} {elapsed}")
                    .expect("template"),
            );
            bar.set_message(what);
            bar.enable_steady_tick(Duration::from_millis(120));
            Some(bar)
        } else {
            eprintln!("leaklab: {what}");
            None
        };
        BuildProgress {
            bar,
            started: Instant::now(),
        }
    }

    /// One line of cargo's stderr: "Compiling serde v1.0.2" shows.
    fn saw(&self, line: &str) {
        if let (Some(bar), Some(krate)) = (&self.bar, line.trim().strip_prefix("Compiling ")) {
            bar.set_message(format!("building the LeakSanitizer lab: compiling {krate}"));
        }
    }

    fn finish(self, ok: bool) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        let seconds = self.started.elapsed().as_secs_f64();
        let how = if ok { "ready" } else { "failed" };
        eprintln!("leaklab: the LeakSanitizer lab build {how} after {seconds:.1} s");
    }
}

/// One side's leaks by class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LsanSide {
    pub direct: Amount,
    pub indirect: Amount,
}

impl LsanSide {
    fn add(&mut self, leak: &LsanLeak) {
        let amount = Amount {
            blocks: leak.objects,
            bytes: leak.bytes,
        };
        let slot = match leak.class {
            LeakClass::Direct => &mut self.direct,
            LeakClass::Indirect => &mut self.indirect,
        };
        *slot = *slot + amount;
    }
}

impl Totals for LsanSide {
    /// LSan's classes in the expectations' terms: all of it is lost.
    fn amounts(&self) -> SideAmounts {
        SideAmounts {
            lost: self.direct + self.indirect,
            ..SideAmounts::default()
        }
    }
}

/// LeakSanitizer's view of one scenario variant.
#[derive(Debug, Clone, Serialize)]
pub struct LsanReport {
    #[serde(flatten)]
    pub workload: Workload,
    pub binary: String,
    pub options: &'static str,
    #[serde(flatten)]
    pub sides: Sides<LsanSide>,
    /// LSan's closing "SUMMARY" line, if it printed one (it does if it
    /// found leaks).
    pub summary: Option<Amount>,
    pub leaks: Vec<LsanLeak>,
    pub child: ChildSummary,
}

impl LsanReport {
    /// What LSan saw at exit, in the expectations' terms.
    pub fn at_exit(&self) -> AtExit {
        self.sides.at_exit(self.workload.runs)
    }
}

/// Builds (if needed) and runs the variant under LeakSanitizer, and reads
/// its report. An `Err` means LSan could not run or its output could not
/// be read; a child that failed is reported, not an `Err`.
pub fn report(req: &Request<'_>) -> Result<LsanReport, String> {
    available()?;
    let (workload, plan) = checker::plan(req, LSAN.tool)?;
    let exe = build()?;
    let limits = Limits {
        mem_cap: 0,
        time_limit: req.limits.time_limit,
    };
    let env = [("LSAN_OPTIONS", OPTIONS)];
    let child = run_child_of(&exe, &env, req.scenario.id, plan, limits, &[])?;
    // Its own failure (a CHECK, no room for its allocator) is never read
    // as a leak report, though LSan then exits with the leak code too.
    if let Some(failure) = crate::run::sanitizer::startup_failure(&child.stderr) {
        return Err(format!("LeakSanitizer failed: {failure}"));
    }
    let leaks = parse(&child.stderr);
    let mut report = LsanReport {
        workload,
        binary: exe.display().to_string(),
        options: OPTIONS,
        sides: Sides::default(),
        summary: summary_of(&child.stderr),
        leaks,
        child: ChildSummary::of(&child),
    };
    for leak in &report.leaks {
        report.sides.side_mut(leak.side).add(leak);
    }
    Ok(report)
}

/// What LSan should see at exit: the lost memory valgrind should see, and
/// nothing of what stays reachable (LSan does not report it).
pub fn expected_at_exit(want: AtExit) -> AtExit {
    let lost_only = |side: SideAmounts| SideAmounts {
        lost: side.lost,
        ..SideAmounts::default()
    };
    AtExit {
        runs: want.runs,
        c: lost_only(want.c),
        rust: lost_only(want.rust),
    }
}

/// Every way `report` falls short of `want` (empty: it matches).
pub fn check(report: &LsanReport, want: &AtExit) -> Vec<String> {
    let child = &report.child;
    let leaked = !report.leaks.is_empty();
    let exit_ok = match child.exit_code {
        Some(0) => !leaked,
        Some(LEAK_EXIT_CODE) => leaked,
        _ => false,
    };
    let mut out: Vec<String> = child
        .unfinished(LSAN.tool, report.workload.iterations, exit_ok)
        .into_iter()
        .collect();
    let at_exit = report.at_exit();
    let parsed = at_exit.c.lost + at_exit.rust.lost;
    if leaked && report.summary != Some(parsed) {
        out.push(format!(
            "LSan's summary {:?} differs from its records read ({})",
            report.summary,
            parsed.describe()
        ));
    }
    out.extend(expect::differences(&at_exit, want));
    out
}

/// "C 66 blk/4697 B lost; Rust clean".
pub fn observed_summary(report: &LsanReport) -> String {
    describe(&report.at_exit())
}

fn describe(at: &AtExit) -> String {
    format!(
        "{}; {}",
        expect::describe_side(Side::C, &at.c),
        expect::describe_side(Side::Rust, &at.rust)
    )
}

/// LeakSanitizer as a checker at exit.
pub static LSAN: Checker<LsanReport> = Checker {
    name: NAME,
    tool: "LeakSanitizer",
    unbounded: "grows without bound within one iteration: LSan checks at exit, and such a \
                run has none; the growth detector sees it",
    available,
    expected_at_exit,
    report,
    check,
    observed_summary,
    expected_summary: describe,
    stacks,
};

/// The biggest records, with stacks.
fn stacks(report: &LsanReport) -> Vec<super::LeakStack> {
    super::LeakStack::biggest(
        report.leaks.iter().map(|l| {
            let kind = match l.class {
                LeakClass::Direct => "direct",
                LeakClass::Indirect => "indirect",
            };
            (
                l.side,
                kind.to_string(),
                l.objects,
                l.bytes,
                l.stack.as_slice(),
            )
        }),
        super::valgrind::SHOWN_STACKS,
    )
}

/// LeakSanitizer's observation of one scenario variant.
pub fn observe(req: &Request<'_>) -> Outcome {
    LSAN.observe(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reachable_memory_is_expected_unreported() {
        let want = AtExit {
            runs: 3,
            c: SideAmounts::default(),
            rust: SideAmounts {
                reachable: Amount {
                    blocks: 3,
                    bytes: 192,
                },
                ..SideAmounts::default()
            },
        };
        assert_eq!(expected_at_exit(want).rust, SideAmounts::default());
    }
}

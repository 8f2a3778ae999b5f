//! `cargo leaklab run` (or `leaklab run`): build, run once under the
//! detector, report on stderr after the program's own output (or one JSON
//! object on stdout), and the exit code ([`code`]).

use std::ffi::OsString;
use std::io::Write;

use serde::Serialize;

use super::Failure;
use super::args::RunArgs;
use crate::run::{self, BuildError, Detector, Stdout, Target};
use crate::suite::record::{self, Amount, Ending, Kinds, MemoryError, SiteLoss, TestRecord};
use crate::suite::report::FailOn;

/// Exit codes of `cargo leaklab run`, checked in this order: 5, 2, 6, 4,
/// 1, 0 (as `cargo leaklab test`'s).
pub mod code {
    /// The program exited 0 and lost nothing.
    pub const CLEAN: i32 = 0;
    /// It lost memory (definitely or indirectly lost).
    pub const LEAKED: i32 = 1;
    // 2: bad input, or a detector that cannot run here
    // (`super::EXIT_USAGE`).
    /// The program itself failed: it exited non-zero or was killed by a
    /// signal (its own status is in the report), or it could not be
    /// measured.
    pub const PROGRAM_FAILED: i32 = 4;
    /// The program did not build: nothing ran.
    pub const BUILD_FAILED: i32 = 5;
    /// It made a memory error (memcheck's invalid read or write, bad
    /// free, uninitialised value; or glibc's abort on a bad free).
    pub const MEMORY_ERROR: i32 = 6;
}

/// The exit code for one program's record.
pub fn exit_code(record: &TestRecord) -> i32 {
    if !record.memory_errors.is_empty() {
        code::MEMORY_ERROR
    } else if record.ending != Ending::Passed {
        code::PROGRAM_FAILED
    } else if FailOn::default().leaked(record) {
        code::LEAKED
    } else {
        code::CLEAN
    }
}

pub fn run(a: RunArgs) -> Result<i32, Failure> {
    let target = match (&a.bin, &a.example) {
        (Some(bin), _) => Target::Bin(bin.clone()),
        (None, Some(example)) => Target::Example(example.clone()),
        (None, None) => Target::Default,
    };
    let detector = match a.detector {
        Detector::Counters => crate::suite::Detector::Counters,
        Detector::Valgrind => crate::suite::Detector::Valgrind,
    };
    crate::suite::detector_available(detector).map_err(Failure::usage)?;
    let dir = tempfile::Builder::new()
        .prefix("leaklab-run-supp-")
        .tempdir()
        .map_err(|e| Failure::usage(format!("a directory for the suppressions: {e}")))?;
    let mut suppressions = Vec::new();
    for (name, text) in crate::suite::LAB_SUPPRESSIONS {
        let path = dir.path().join(name);
        std::fs::write(&path, text)
            .map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?;
        suppressions.push(path);
    }
    for user in &a.suppressions {
        let path = std::fs::canonicalize(user)
            .map_err(|e| Failure::usage(format!("--suppressions {}: {e}", user.display())))?;
        suppressions.push(path);
    }
    let program = match run::build(&target, &cargo_args(&a)) {
        Ok(path) => path,
        Err(BuildError::Failed) => {
            return Err(Failure {
                message: "the program did not build (cargo's output above says why)".into(),
                code: code::BUILD_FAILED,
            });
        }
        Err(BuildError::Usage(message)) => return Err(Failure::usage(message)),
    };
    let stdout = if a.json {
        Stdout::ToStderr
    } else {
        Stdout::Inherit
    };
    let sites = if a.no_sites {
        run::Sites::LeftToMemcheck
    } else {
        run::Sites::Walked
    };
    let record = run::measure(a.detector, &program, &a.args, &suppressions, stdout, sites)
        .map_err(Failure::usage)?;
    let exit = exit_code(&record);
    if a.json {
        let json = Json::of(&record, &program, &a.args, exit);
        let text =
            serde_json::to_string_pretty(&json).map_err(|e| Failure::usage(e.to_string()))?;
        outln!("{text}")?;
    } else {
        // After the program's output, on stderr: stdout stays the
        // program's alone.
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "{}", report(&record, &program, a.detector, exit));
    }
    Ok(exit)
}

/// The arguments handed to `cargo build`.
fn cargo_args(a: &RunArgs) -> Vec<OsString> {
    let mut out: Vec<OsString> = Vec::new();
    if let Some(p) = &a.package {
        out.extend(["-p".into(), p.into()]);
    }
    if a.release {
        out.push("--release".into());
    }
    if let Some(profile) = &a.profile {
        out.extend(["--profile".into(), profile.into()]);
    }
    for f in &a.features {
        out.extend(["--features".into(), f.into()]);
    }
    if a.all_features {
        out.push("--all-features".into());
    }
    if a.no_default_features {
        out.push("--no-default-features".into());
    }
    if let Some(m) = &a.manifest_path {
        out.extend(["--manifest-path".into(), m.into()]);
    }
    if let Some(d) = &a.target_dir {
        out.extend(["--target-dir".into(), d.into()]);
    }
    out
}

/// How the program ended, in words.
fn ending_text(e: &Ending) -> String {
    match e {
        Ending::Passed => "exited 0".into(),
        Ending::Failed(code) => format!("FAILED (exit {code})"),
        Ending::Signal(s) => format!("KILLED (signal {s})"),
        Ending::NotMeasured(why) => format!("NOT MEASURED: {why}"),
        Ending::TimedOut(secs) => format!("TIMED OUT (after {secs} s)"),
    }
}

fn sum(a: Amount, b: Amount) -> Amount {
    Amount {
        blocks: a.blocks + b.blocks,
        bytes: a.bytes + b.bytes,
    }
}

/// The report: a header line, one row as `cargo leaklab test`'s table,
/// the memory errors and notes, and the verdict.
fn report(r: &TestRecord, program: &std::path::Path, detector: Detector, exit: i32) -> String {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::ASCII_MARKDOWN);
    let counters = detector == Detector::Counters;
    let mut header = vec![
        "program",
        "result",
        "C lost",
        "Rust lost",
        "possibly lost",
        "reachable",
    ];
    if counters {
        header.push("heap at exit: lost / possible (counters' scan)");
    }
    header.push("top frame of the biggest record");
    t.set_header(header);
    let (c, rust) = if r.note.is_some() {
        ("?".to_owned(), "?".to_owned())
    } else {
        (r.c.lost.to_string(), r.rust.lost.to_string())
    };
    let result = match r.memory_errors.first() {
        Some(e) => format!("memory error: {} ({})", e.kind, ending_text(&r.ending)),
        None => ending_text(&r.ending),
    };
    let mut row = vec![
        r.binary.clone(),
        result,
        c,
        rust,
        sum(r.c.possible, r.rust.possible).to_string(),
        sum(r.c.reachable, r.rust.reachable).to_string(),
    ];
    if counters {
        row.push(
            r.heap_at_exit
                .map_or("?".into(), |k| format!("{} / {}", k.lost, k.possible)),
        );
    }
    row.push(match r.memory_errors.first() {
        Some(e) => e.frames(),
        None => r.top_frame.clone().unwrap_or_default(),
    });
    t.add_row(row);
    let mut out = format!(
        "\n---- leaklab run: {} under {} ----\n{t}\n",
        program.display(),
        r.detector
    );
    out.push_str(&sites_table(r));
    if let Some(note) = &r.note {
        out.push_str(&format!("note: {note}\n"));
    }
    for e in &r.memory_errors {
        let frames = e.frames();
        let frames = if frames.is_empty() {
            String::new()
        } else {
            format!("; {frames}")
        };
        out.push_str(&format!(
            "memory error: {} ({}x): {}{frames}\n",
            e.kind, e.count, e.what
        ));
    }
    let verdict = match exit {
        code::MEMORY_ERROR => "the program made a memory error".to_owned(),
        code::PROGRAM_FAILED => format!("the program failed: {}", ending_text(&r.ending)),
        code::LEAKED => {
            let (c, rust) = FailOn::default().counted(r);
            format!("the program lost memory (C {c}, Rust {rust})")
        }
        _ => "the program lost no memory".to_owned(),
    };
    out.push_str(&format!("leaklab run: exit {exit}: {verdict}\n"));
    out
}

/// The sites shown under the table, at most; `--json` lists them all.
const SITES_SHOWN: usize = 10;

/// The lost blocks per allocation site, the most bytes first: side,
/// amount and the frame shown (function, file:line); empty when no stack
/// was read.
fn sites_table(r: &TestRecord) -> String {
    if r.lost_sites.is_empty() {
        return String::new();
    }
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::ASCII_MARKDOWN);
    t.set_header(["side", "lost", "allocated at"]);
    for site in r.lost_sites.iter().take(SITES_SHOWN) {
        let side = match site.side {
            crate::parse::attribution::Side::C => "C",
            crate::parse::attribution::Side::Rust => "Rust",
        };
        t.add_row([
            side.to_owned(),
            site.lost.to_string(),
            site.frame.clone().unwrap_or_else(|| "?".into()),
        ]);
    }
    let from = match r.stacks_from.as_deref() {
        Some(record::STACKS_SITES) => "the shim's allocation sites",
        Some(other) => other,
        None => "?",
    };
    let mut out = format!("\nlost, by allocation site (stacks from {from}):\n{t}\n");
    let more = r.lost_sites.len().saturating_sub(SITES_SHOWN);
    if more > 0 {
        out.push_str(&format!(
            "... and {more} more sites (--json lists every one)\n"
        ));
    }
    out
}

/// `--json`: the record, the program's own status and leaklab's exit code.
#[derive(Serialize)]
struct Json<'a> {
    program: String,
    args: Vec<String>,
    detector: &'a str,
    /// The program's own exit code (None: killed by a signal, or not
    /// measured).
    status: Option<i32>,
    ending: &'a Ending,
    exit_code: i32,
    c: Kinds,
    rust: Kinds,
    heap_at_exit: Option<Kinds>,
    top_frame: Option<&'a str>,
    /// Where the sides and stacks came from: `sites`, `memcheck`, or none.
    stacks_from: Option<&'a str>,
    /// Each allocation site with lost blocks, the most bytes first.
    lost_sites: &'a [SiteLoss],
    memory_errors: &'a [MemoryError],
    note: Option<&'a str>,
}

impl<'a> Json<'a> {
    fn of(r: &'a TestRecord, program: &std::path::Path, args: &[OsString], exit: i32) -> Self {
        Json {
            program: program.display().to_string(),
            args: args
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect(),
            detector: &r.detector,
            status: match r.ending {
                Ending::Passed => Some(0),
                Ending::Failed(code) => Some(code),
                _ => None,
            },
            ending: &r.ending,
            exit_code: exit,
            c: r.c,
            rust: r.rust,
            heap_at_exit: r.heap_at_exit,
            top_frame: r.top_frame.as_deref(),
            stacks_from: r.stacks_from.as_deref(),
            lost_sites: &r.lost_sites,
            memory_errors: &r.memory_errors,
            note: r.note.as_deref(),
        }
    }
}

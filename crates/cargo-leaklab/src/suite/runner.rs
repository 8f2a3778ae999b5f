//! The per-test runner: what cargo-nextest starts instead of a test binary
//! (`leaklab __test-runner BINARY ARGS...`, set as the target runner by
//! `cargo leaklab test`). nextest starts one process per test, so each run
//! here is one test: it runs it under the chosen detector, writes one
//! [`TestRecord`] into the suite's directory, and exits with the test's
//! own code, so nextest's pass/fail stays the test's.
//!
//! Listing calls (`--list`) are run as they are, and their output noted,
//! so the suite can say which tests it never saw run.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use super::record::{self, Amount, Ending, Kinds, Listing, MemoryError, SiteLoss, TestRecord};
use super::{Detector, env};
use crate::parse::attribution::{Frame, Side, shown_frame};
use crate::parse::valgrind_xml::{self as xml, LeakKind};
use crate::watch::preload::Channel;

/// Runs `binary args` as nextest asked; returns the exit code to exit with.
pub fn main(binary: PathBuf, args: Vec<OsString>) -> i32 {
    let dir = match std::env::var_os(env::DIR) {
        Some(dir) => PathBuf::from(dir),
        None => {
            eprintln!(
                "leaklab __test-runner: {} is not set; run it through `cargo leaklab test`",
                env::DIR
            );
            return crate::cli::EXIT_USAGE;
        }
    };
    if args.iter().any(|a| a == "--list") {
        return list(&dir, &binary, &args);
    }
    let test = args
        .iter()
        .position(|a| a == "--exact")
        .and_then(|i| args.get(i + 1))
        .map_or_else(
            || "(whole binary)".to_owned(),
            |t| t.to_string_lossy().into_owned(),
        );
    // rustdoc names no doctest to its runner: the top frame does.
    let doctest = std::env::var_os(env::DOCTESTS).is_some();
    let test = if doctest { "doctest".to_owned() } else { test };
    let whole: Vec<OsString>;
    let args = if test == WHOLE_BINARY {
        // Not libtest: nextest's --exact and --nocapture mean nothing to it.
        whole = Vec::new();
        &whole
    } else {
        &args
    };
    let detector = std::env::var(env::DETECTOR)
        .ok()
        .and_then(|d| Detector::from_name(&d))
        .unwrap_or(Detector::Counters);
    let (code, mut record) = match detector {
        Detector::Valgrind => under_valgrind(&dir, &binary, args, &test),
        Detector::Counters => with_counters(&dir, &binary, args, &test),
        Detector::Lsan => under_lsan(&dir, &binary, args, &test),
    };
    if doctest {
        record.binary = "doctests".into();
    }
    if let Err(e) = record::write(&dir, "test", &record) {
        eprintln!("leaklab __test-runner: cannot write the record of {test}: {e}");
        return crate::cli::EXIT_USAGE;
    }
    code
}

fn list(dir: &Path, binary: &Path, args: &[OsString]) -> i32 {
    let output = match output_limited(Command::new(binary).args(args), limit(false)) {
        Ok(Some(output)) => output,
        // Still running at the limit: libtest lists at once, so this is
        // not libtest; its run (whole) will show the hang.
        Ok(None) => std::process::Output {
            status: std::os::unix::process::ExitStatusExt::from_raw(libc::SIGKILL),
            stdout: Vec::new(),
            stderr: Vec::new(),
        },
        Err(e) => {
            eprintln!(
                "leaklab __test-runner: cannot run {}: {e}",
                binary.display()
            );
            return 127;
        }
    };
    use std::io::Write;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let ignored = args.iter().any(|a| a == "--ignored");
    // libtest's `--format terse`: "NAME: test" (or ": benchmark") per line.
    let libtest = output.status.success()
        && stdout
            .lines()
            .all(|l| l.ends_with(": test") || l.ends_with(": benchmark"))
        && (!stdout.trim().is_empty() || lists_nothing(binary));
    if !libtest {
        // Not libtest's listing (a `harness = false` target, printing or
        // silent): one unit, run whole, so nextest's listing holds and the
        // binary is measured like any test.
        let _ = std::io::stderr().write_all(&output.stdout);
        let _ = std::io::stderr().write_all(&output.stderr);
        let listing = Listing {
            binary: file_name(binary),
            tests: if ignored {
                Vec::new()
            } else {
                vec![WHOLE_BINARY.to_owned()]
            },
            ignored: Vec::new(),
            whole: true,
        };
        let prefix = if ignored { "list-ignored" } else { "list-all" };
        let _ = record::write(dir, prefix, &listing);
        if !ignored {
            println!("{WHOLE_BINARY}: test");
        }
        return 0;
    }
    let _ = std::io::stdout().write_all(&output.stdout);
    let _ = std::io::stderr().write_all(&output.stderr);
    let names: Vec<String> = stdout
        .lines()
        .filter_map(|l| l.strip_suffix(": test"))
        .map(str::to_owned)
        .collect();
    let listing = Listing {
        binary: file_name(binary),
        tests: if ignored { Vec::new() } else { names.clone() },
        ignored: if ignored { names } else { Vec::new() },
        whole: false,
    };
    let prefix = if ignored { "list-ignored" } else { "list-all" };
    let _ = record::write(dir, prefix, &listing);
    output.status.code().unwrap_or(101)
}

/// Whether a binary whose terse listing was empty is libtest's with no
/// tests: its plain `--list` ends with "0 tests, 0 benchmarks". A
/// `harness = false` binary that prints nothing says no such thing.
fn lists_nothing(binary: &Path) -> bool {
    output_limited(
        Command::new(binary).arg("--list").stdin(Stdio::null()),
        limit(false),
    )
    .is_ok_and(|o| {
        o.is_some_and(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.trim() == "0 tests, 0 benchmarks")
        })
    })
}

/// The one test nextest is told a binary has when it is not libtest's (a
/// `harness = false` target): run as one unit, with no arguments.
pub const WHOLE_BINARY: &str = "leaklab::whole-binary";

fn file_name(path: &Path) -> String {
    path.file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
}

pub(crate) fn empty(binary: &Path, test: &str, detector: &str) -> TestRecord {
    TestRecord {
        binary: file_name(binary),
        test: test.to_owned(),
        ending: Ending::Passed,
        detector: detector.to_owned(),
        c: Kinds::default(),
        rust: Kinds::default(),
        heap_at_exit: None,
        top_frame: None,
        errors: Vec::new(),
        memory_errors: Vec::new(),
        suppressions: Vec::new(),
        stacks_from: None,
        note: None,
        lost_sites: Vec::new(),
        run_again: None,
    }
}

pub(super) fn ending(status: ExitStatus) -> Ending {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(0), _) => Ending::Passed,
        (Some(code), _) => Ending::Failed(code),
        (None, Some(signal)) => Ending::Signal(signal),
        (None, None) => Ending::NotMeasured("no exit status".into()),
    }
}

/// The exit code that tells nextest what the test did.
fn exit_code(ending: &Ending) -> i32 {
    match ending {
        Ending::Passed => 0,
        Ending::Failed(code) => *code,
        Ending::Signal(signal) => 128 + signal,
        Ending::NotMeasured(_) => 101,
        // timeout(1)'s code.
        Ending::TimedOut(_) => 124,
    }
}

/// The per-test time limit [`super::run`] set, for a native run or one
/// under memcheck; `None`: no limit.
fn limit(under_memcheck: bool) -> Option<Duration> {
    let var = if under_memcheck {
        env::TIMEOUT_MEMCHECK
    } else {
        env::TIMEOUT
    };
    std::env::var(var)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .filter(|&s| s > 0)
        .map(Duration::from_secs)
}

/// How a limited run ended.
pub(crate) enum Finished {
    Exited(ExitStatus),
    /// Killed (SIGKILL) when its time ran out.
    TimedOut(Duration),
}

/// Runs `cmd` to its end or until `limit`, when it is killed. With
/// `keep_stderr`, the child's stderr is passed through to this process's
/// and a copy of its last 64 KiB returned.
pub(crate) fn run_limited(
    cmd: &mut Command,
    limit: Option<Duration>,
    keep_stderr: bool,
) -> std::io::Result<(Finished, String, u32)> {
    use std::sync::mpsc;
    if keep_stderr {
        cmd.stderr(Stdio::piped());
    }
    let mut child = cmd.spawn()?;
    let (text_tx, text_rx) = mpsc::channel();
    if let Some(mut pipe) = child.stderr.take() {
        std::thread::spawn(move || {
            use std::io::{Read, Write};
            let mut kept: Vec<u8> = Vec::new();
            let mut buf = [0u8; 8192];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let _ = std::io::stderr().write_all(&buf[..n]);
                kept.extend_from_slice(&buf[..n]);
                if kept.len() > 128 * 1024 {
                    kept.drain(..kept.len() - 64 * 1024);
                }
            }
            let _ = text_tx.send(String::from_utf8_lossy(&kept).into_owned());
        });
    } else {
        // No reader: the wait below must not wait for one.
        drop(text_tx);
    }
    let pid = child.id();
    let (status, timed_out) = wait_limited(&mut child, limit)?;
    // A grandchild may hold the pipe open: do not wait on it for long.
    let text = text_rx
        .recv_timeout(Duration::from_secs(1))
        .unwrap_or_default();
    match (timed_out, limit) {
        (true, Some(limit)) => Ok((Finished::TimedOut(limit), text, pid)),
        _ => Ok((Finished::Exited(status), text, pid)),
    }
}

/// Waits for `child` to end, or kills it (SIGKILL) when `limit` runs out;
/// its status and whether it was killed so.
fn wait_limited(
    child: &mut std::process::Child,
    limit: Option<Duration>,
) -> std::io::Result<(ExitStatus, bool)> {
    use std::sync::mpsc;
    let pid = child.id();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let watcher = limit.map(|limit| {
        std::thread::spawn(move || {
            if done_rx.recv_timeout(limit) == Err(mpsc::RecvTimeoutError::Timeout) {
                // SAFETY: `pid` is our child and is not reaped yet (the
                // waiting thread waits with WNOWAIT and reaps only after
                // this thread is joined), so the pid is not reused.
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
                true
            } else {
                false
            }
        })
    });
    if watcher.is_some() {
        loop {
            // SAFETY: an all-zero siginfo_t is a valid out-parameter.
            let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
            // SAFETY: waits for our own child without reaping it (WNOWAIT);
            // `info` is a valid siginfo_t to write to.
            let r = unsafe {
                libc::waitid(
                    libc::P_PID,
                    pid as libc::id_t,
                    &mut info,
                    libc::WEXITED | libc::WNOWAIT,
                )
            };
            if r == 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                break;
            }
        }
    }
    let _ = done_tx.send(());
    let timed_out = watcher.is_some_and(|w| w.join().unwrap_or(false));
    let status = child.wait()?;
    Ok((status, timed_out))
}

/// Runs `cmd` to its end, its stdout and stderr kept whole; `None` when it
/// was still running at `limit` (it was killed).
fn output_limited(
    cmd: &mut Command,
    limit: Option<Duration>,
) -> std::io::Result<Option<std::process::Output>> {
    use std::io::Read;
    use std::sync::mpsc;
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn()?;
    let read = |pipe: Option<Box<dyn Read + Send>>| {
        let (tx, rx) = mpsc::channel();
        if let Some(mut pipe) = pipe {
            std::thread::spawn(move || {
                let mut all = Vec::new();
                let _ = pipe.read_to_end(&mut all);
                let _ = tx.send(all);
            });
        }
        rx
    };
    let out = read(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = read(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let (status, timed_out) = wait_limited(&mut child, limit)?;
    if timed_out {
        return Ok(None);
    }
    let wait = Duration::from_secs(1);
    Ok(Some(std::process::Output {
        status,
        stdout: out.recv_timeout(wait).unwrap_or_default(),
        stderr: err.recv_timeout(wait).unwrap_or_default(),
    }))
}

pub(crate) fn finished_ending(finished: &Finished) -> Ending {
    match finished {
        Finished::Exited(status) => ending(*status),
        Finished::TimedOut(limit) => Ending::TimedOut(limit.as_secs()),
    }
}

/// glibc's own abort on a bad free or a corrupted heap
/// (`malloc_printerr`): its message, when a process killed by SIGABRT
/// wrote one on stderr.
pub(crate) fn glibc_abort(ending: &Ending, stderr: &str) -> Option<MemoryError> {
    if *ending != Ending::Signal(libc::SIGABRT) {
        return None;
    }
    const PREFIXES: [&str; 12] = [
        "free(",
        "malloc(",
        "realloc(",
        "calloc(",
        "munmap_chunk(",
        "_int_free(",
        "_int_malloc(",
        "_int_realloc(",
        "malloc_consolidate(",
        "tcache_thread_shutdown(",
        "double free or corruption",
        "corrupted ",
    ];
    let message = stderr
        .lines()
        .map(str::trim)
        .rfind(|l| PREFIXES.iter().any(|p| l.starts_with(p)))?;
    let kind = if message.contains("double free") {
        "double free"
    } else if message.contains("invalid pointer") || message.contains("invalid size") {
        "invalid free"
    } else {
        "heap corruption"
    };
    Some(MemoryError {
        kind: kind.into(),
        what: format!("glibc aborted the process: {message}"),
        count: 1,
        at: None,
        allocated_at: None,
        freed_at: None,
    })
}

/// memcheck's run of one test.
fn under_valgrind(dir: &Path, binary: &Path, args: &[OsString], test: &str) -> (i32, TestRecord) {
    let mut record = empty(binary, test, "valgrind");
    let xml = dir.join(format!("memcheck-{}.xml", std::process::id()));
    let status = memcheck(binary, args, &xml);
    match status {
        Ok(Finished::Exited(status)) => record.ending = ending(status),
        Ok(timed_out) => {
            record.ending = finished_ending(&timed_out);
            let _ = std::fs::remove_file(&xml);
            return (exit_code(&record.ending), record);
        }
        Err(e) => {
            record.ending = Ending::NotMeasured(e);
            return (101, record);
        }
    }
    if let Err(e) = read_memcheck(&xml, &mut record) {
        record.ending = Ending::NotMeasured(e);
    }
    let _ = std::fs::remove_file(&xml);
    (exit_code(&record.ending), record)
}

fn memcheck(binary: &Path, args: &[OsString], xml: &Path) -> Result<Finished, String> {
    let supp = std::env::var_os(env::SUPPRESSIONS).unwrap_or_default();
    memcheck_with(binary, args, xml, &supp, false)
}

/// [`memcheck`] with the suppression files `supp` (`:`-separated);
/// `quiet`: a second run, whose output the test's first run already gave.
fn memcheck_with(
    binary: &Path,
    args: &[OsString],
    xml: &Path,
    supp: &std::ffi::OsStr,
    quiet: bool,
) -> Result<Finished, String> {
    let gen_supp = std::env::var_os(env::GEN_SUPPRESSIONS).is_some();
    let mut cmd = memcheck_command(xml, 40, supp, gen_supp);
    if quiet {
        cmd.stdout(Stdio::null());
    }
    cmd.arg(binary).args(args);
    run_limited(&mut cmd, limit(true), false)
        .map(|(finished, _, _)| finished)
        .map_err(|e| format!("cannot run valgrind: {e}"))
}

/// `valgrind` with memcheck's options (full leak check, every kind, XML
/// to `xml`, stacks of up to `callers` frames, the suite's suppressions),
/// the program still to be added. `supp`: the suppression files,
/// `:`-separated; `gen_supp`: memcheck writes a suppression per record.
pub(crate) fn memcheck_command(
    xml: &Path,
    callers: u32,
    supp: &std::ffi::OsStr,
    gen_supp: bool,
) -> Command {
    let mut cmd = Command::new("valgrind");
    cmd.args([
        "-q",
        "--tool=memcheck",
        "--leak-check=full",
        "--show-leak-kinds=all",
        "--xml=yes",
        // A forked child (not exec'd) would write its own XML into the
        // same file, and the mixed document parses as neither.
        "--child-silent-after-fork=yes",
    ])
    .arg(format!("--num-callers={callers}"))
    .arg(format!("--xml-file={}", xml.display()));
    if gen_supp {
        cmd.arg("--gen-suppressions=all");
    }
    for supp in std::env::split_paths(supp) {
        if !supp.as_os_str().is_empty() {
            cmd.arg(format!("--suppressions={}", supp.display()));
        }
    }
    cmd
}

pub(crate) fn read_memcheck(xml: &Path, record: &mut TestRecord) -> Result<(), String> {
    let text = std::fs::read_to_string(xml)
        .map_err(|e| format!("memcheck's XML {}: {e}", xml.display()))?;
    let parsed = xml::parse(&text)?;
    let memory = memory_errors(&text, &parsed.errors);
    let records: Vec<&xml::LossRecord> = parsed.records.iter().collect();
    let errors: Vec<(&xml::MemError, MemoryError)> = parsed.errors.iter().zip(memory).collect();
    fill(record, &records, &errors);
    Ok(())
}

/// Adds these loss records and memory errors (memcheck's, each with its
/// frames) to `record`: the amounts per side and kind, the top frame of
/// the biggest lost record, the suppressions and the errors.
pub(super) fn fill(
    record: &mut TestRecord,
    records: &[&xml::LossRecord],
    errors: &[(&xml::MemError, MemoryError)],
) {
    for r in records {
        let kinds = match r.side {
            Side::C => &mut record.c,
            Side::Rust => &mut record.rust,
        };
        let amount = match r.kind {
            LeakKind::DefinitelyLost | LeakKind::IndirectlyLost => &mut kinds.lost,
            LeakKind::PossiblyLost => &mut kinds.possible,
            LeakKind::StillReachable => &mut kinds.reachable,
        };
        amount.add(r.blocks, r.bytes);
    }
    let lost = records
        .iter()
        .filter(|r| r.kind != LeakKind::StillReachable);
    record.top_frame = lost
        .clone()
        .max_by_key(|r| r.bytes + r.indirect_bytes)
        .and_then(|r| shown_frame(&r.stack));
    // Every lost record as a site, as the shim's sites are listed.
    let mut sites: Vec<SiteLoss> = records
        .iter()
        .filter(|r| matches!(r.kind, LeakKind::DefinitelyLost | LeakKind::IndirectlyLost))
        .map(|r| SiteLoss {
            side: r.side,
            lost: Amount {
                blocks: r.blocks,
                bytes: r.bytes,
            },
            frame: shown_frame(&r.stack),
        })
        .collect();
    sites.sort_by_key(|s| std::cmp::Reverse(s.lost.bytes));
    record.lost_sites.extend(sites);
    if record.top_frame.is_some() || !errors.is_empty() {
        record.stacks_from = Some(STACKS_MEMCHECK.into());
    }
    record.suppressions = lost.filter_map(|r| r.suppression.clone()).collect();
    record.errors = errors
        .iter()
        .map(|(e, _)| format!("{} ({}x): {}", e.kind, e.count, e.what))
        .collect();
    record.memory_errors = errors.iter().map(|(_, m)| m.clone()).collect();
}

/// memcheck's errors other than leaks, each with the first frame of its
/// stacks: the access (the error's own `<stack>`), and after it, each
/// introduced by an `<auxwhat>`, where the block was freed ("... free'd")
/// and allocated ("Block was alloc'd at").
pub(super) fn memory_errors(text: &str, errors: &[xml::MemError]) -> Vec<MemoryError> {
    let Ok(doc) = roxmltree::Document::parse(text) else {
        return Vec::new();
    };
    let named = |node: roxmltree::Node<'_, '_>, name: &str| {
        node.children()
            .find(|c| c.has_tag_name(name))
            .and_then(|c| c.text())
            .map(str::to_owned)
    };
    let mut out = Vec::new();
    let nodes = doc
        .root_element()
        .children()
        .filter(|n| n.has_tag_name("error"))
        .filter(|n| named(*n, "kind").is_some_and(|k| !k.starts_with("Leak_")));
    for (node, parsed) in nodes.zip(errors) {
        let mut error = MemoryError {
            kind: parsed.kind.clone(),
            what: parsed.what.clone(),
            count: parsed.count,
            at: None,
            allocated_at: None,
            freed_at: None,
        };
        let mut aux: Option<String> = None;
        let mut first = true;
        for child in node.children().filter(|c| c.is_element()) {
            match child.tag_name().name() {
                "auxwhat" => aux = child.text().map(str::to_owned),
                "stack" => {
                    let frames: Vec<Frame> = child
                        .children()
                        .filter(|f| f.has_tag_name("frame"))
                        .map(crate::parse::valgrind_xml::frame)
                        .filter(|f| !is_valgrind_replacement(f))
                        .collect();
                    let frame = shown_frame(&frames);
                    let aux_text = aux.take().unwrap_or_default();
                    if first {
                        error.at = frame;
                        first = false;
                    } else if aux_text.contains("alloc'd") || aux_text.contains("created by") {
                        error.allocated_at = frame;
                    } else if aux_text.contains("free'd") {
                        error.freed_at = frame;
                    }
                }
                _ => {}
            }
        }
        out.push(error);
    }
    out
}

/// valgrind's own malloc and free (vg_replace_malloc.c, in its preloaded
/// object): never the frame a reader looks for.
fn is_valgrind_replacement(frame: &Frame) -> bool {
    frame
        .object
        .as_deref()
        .is_some_and(|o| o.contains("vgpreload"))
        || frame
            .file
            .as_deref()
            .is_some_and(|f| f.ends_with("vg_replace_malloc.c"))
}

/// The counters' run: the preload shim counts the process's malloc heap
/// and, at exit, classes every live block by a conservative scan of the
/// process's memory. A test that lost memory is run again under memcheck,
/// which tells the sides, the kinds and the stack.
fn with_counters(dir: &Path, binary: &Path, args: &[OsString], test: &str) -> (i32, TestRecord) {
    let mut record = empty(binary, test, "counters");
    let (ending, heap, stderr) = match at_exit(binary, args) {
        Ok(counted) => counted,
        Err(e) => {
            record.ending = Ending::NotMeasured(e);
            return (101, record);
        }
    };
    record.ending = ending;
    let code = exit_code(&record.ending);
    if let Some(abort) = glibc_abort(&record.ending, &stderr) {
        // memcheck names the stacks of the bad free (and does not abort).
        let ending = record.ending.clone();
        match confirm(dir, binary, args, &mut record) {
            Ok(()) if !record.memory_errors.is_empty() => {
                record.detector = "counters (memory error: memcheck)".into();
            }
            Ok(()) => record.memory_errors = vec![abort],
            Err(e) => {
                record.memory_errors = vec![abort];
                record.note = Some(format!("no stacks: {e}"));
            }
        }
        record.ending = ending;
        return (code, record);
    }
    if matches!(record.ending, Ending::TimedOut(_)) {
        return (code, record);
    }
    let Some(heap) = heap else {
        record.note = Some("the process did not reach exit(): nothing counted at exit".into());
        return (code, record);
    };
    if heap.allocations == 0 {
        // Nothing was counted, which is no measurement: the executable's
        // own malloc won over the shim's and is no copy of leaklab's
        // interposer (one linking leaklab publishes itself).
        let bypassed =
            "the counters cannot see this binary: its malloc is neither the shim's nor leaklab's";
        return match confirm(dir, binary, args, &mut record) {
            Ok(()) => {
                record.detector = "valgrind (counters bypassed)".into();
                (code, record)
            }
            Err(e) => {
                record.ending = Ending::NotMeasured(format!(
                    "{bypassed}; and memcheck could not stand in: {e}"
                ));
                (101, record)
            }
        };
    }
    let amount = |h: crate::watch::sample::Heap| Amount {
        blocks: h.blocks,
        bytes: h.bytes,
    };
    let lost = amount(heap.lost);
    let possible = amount(heap.possible);
    record.heap_at_exit = Some(Kinds {
        lost,
        possible,
        reachable: Amount {
            blocks: heap.live.blocks - lost.blocks - possible.blocks,
            bytes: heap.live.bytes - lost.bytes - possible.bytes,
        },
    });
    // Blocks the scan could only call possibly lost may get memcheck's
    // second look once every test has run and the runtime's own share is
    // known (`super::second_look`), unless memcheck looks at it here.
    let run_again = super::record::RunAgain {
        binary: binary.to_owned(),
        args: args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
    };
    if lost.is_zero() {
        record.run_again = Some(run_again);
        return (code, record);
    }
    // The lost blocks' stacks: the shim's own sites, from one native
    // re-run that walks every allocation's stack; memcheck only where
    // that run cannot tell.
    let sites = by_sites(binary, args, &record.ending, lost);
    let unsure = match sites {
        Ok(found) => {
            record.fill_from_sites(found);
            record.detector = COUNTERS_SITES.into();
            record.run_again = Some(run_again);
            return (code, record);
        }
        Err(why) => why,
    };
    match confirm(dir, binary, args, &mut record) {
        Err(e) => record.note = Some(format!("sides unknown: {unsure}; and {e}")),
        Ok(()) => {
            record.detector = "counters (sides: memcheck)".into();
            record.note = Some(format!("{unsure}: memcheck named the sides"));
        }
    }
    (code, record)
}

/// The detector of a counted test whose lost blocks were named by the
/// shim's allocation sites (no memcheck run).
pub(crate) const COUNTERS_SITES: &str = "counters (sides: allocation sites)";

/// [`TestRecord::stacks_from`] for stacks read by memcheck.
const STACKS_MEMCHECK: &str = "memcheck";

/// Runs the test again natively with the shim counting every
/// allocation's site (no sampling: exact counts), and reads its lost
/// blocks' sites at exit: their sides (by the same rule as memcheck's
/// stacks, `parse::attribution`) and the biggest one's top frame. An
/// error (why the sites cannot decide) when that run ends otherwise than
/// the first (`first`), had more than one thread at exit or a lost block
/// with no stack ([`crate::sites::SiteFiles::blame`]), or its scan finds
/// another lost amount than the first run's (`lost`).
fn by_sites(
    binary: &Path,
    args: &[OsString],
    first: &Ending,
    lost: Amount,
) -> Result<Vec<SiteLoss>, String> {
    let shim = match std::env::var_os(env::SHIM) {
        Some(found) => PathBuf::from(found),
        None => crate::watch::preload::locate()?,
    };
    let channel = Channel::open(shim, std::time::Duration::ZERO)
        .map_err(|e| format!("the shim's page: {e}"))?;
    let files =
        crate::sites::SiteFiles::create().map_err(|e| format!("a directory for sites: {e}"))?;
    let mut cmd = Command::new(binary);
    cmd.args(args).stdout(Stdio::null()).stderr(Stdio::null());
    channel.configure(&mut cmd);
    files.configure(&mut cmd, 0);
    cmd.env("LIBC_FATAL_STDERR_", "1");
    // Walking every stack slows an allocating test down: memcheck's
    // limit, not the native one.
    let (finished, _, pid) = run_limited(&mut cmd, limit(true), false)
        .map_err(|e| format!("cannot run {} again for its sites: {e}", binary.display()))?;
    let ending = finished_ending(&finished);
    if ending != *first {
        return Err(format!(
            "the re-run for allocation sites ended otherwise ({ending:?}, first {first:?})"
        ));
    }
    let heap = channel
        .read_at_exit(pid)
        .ok_or("the re-run for allocation sites did not reach exit()")?;
    let again = Amount {
        blocks: heap.lost.blocks,
        bytes: heap.lost.bytes,
    };
    // What the sites cannot tell in any run (a thread alive at exit, a
    // lost block without a stack) first: a thread's timing may also make
    // the two runs' amounts differ, and the note should name the cause.
    let found = files.blame(pid, again)?;
    if again != lost {
        return Err(format!(
            "the re-run for allocation sites found {again} lost, the first run {lost}"
        ));
    }
    Ok(found)
}

/// memcheck's run of the same test, read into `record`: the sides, kinds
/// and stacks the counters cannot give.
fn confirm(
    dir: &Path,
    binary: &Path,
    args: &[OsString],
    record: &mut TestRecord,
) -> Result<(), String> {
    let supp = std::env::var_os(env::SUPPRESSIONS).unwrap_or_default();
    confirm_with(dir, binary, args, record, &supp)
}

/// [`confirm`] with the suppression files `supp` (`:`-separated), for a
/// caller outside nextest's children (which have them in the environment).
pub(crate) fn confirm_with(
    dir: &Path,
    binary: &Path,
    args: &[OsString],
    record: &mut TestRecord,
    supp: &std::ffi::OsStr,
) -> Result<(), String> {
    super::detector_available(Detector::Valgrind)?;
    let xml = dir.join(format!("memcheck-{}.xml", std::process::id()));
    let read = memcheck_with(binary, args, &xml, supp, true).and_then(|finished| match finished {
        Finished::TimedOut(limit) => Err(format!(
            "still running under memcheck after {} s",
            limit.as_secs()
        )),
        Finished::Exited(_) => read_memcheck(&xml, record),
    });
    let _ = std::fs::remove_file(&xml);
    read.map_err(|e| format!("memcheck's run failed: {e}"))
}

/// What one run with the shim gave: its ending, what the shim saw at
/// exit, and the end of its stderr.
type Counted = (Ending, Option<crate::watch::preload::AtExit>, String);

/// Runs the binary with the shim; its ending and what the shim saw at exit.
fn at_exit(binary: &Path, args: &[OsString]) -> Result<Counted, String> {
    let shim = match std::env::var_os(env::SHIM) {
        Some(found) => PathBuf::from(found),
        None => crate::watch::preload::locate()?,
    };
    let channel = Channel::open(shim, std::time::Duration::ZERO)
        .map_err(|e| format!("the shim's page: {e}"))?;
    let mut cmd = Command::new(binary);
    cmd.args(args);
    channel.configure(&mut cmd);
    // glibc writes its abort messages to stderr, not to the terminal.
    cmd.env("LIBC_FATAL_STDERR_", "1");
    let (finished, stderr, pid) = run_limited(&mut cmd, limit(false), true)
        .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
    let at_exit = match finished {
        Finished::Exited(_) => channel.read_at_exit(pid),
        Finished::TimedOut(_) => None,
    };
    Ok((finished_ending(&finished), at_exit, stderr))
}

/// LeakSanitizer's run: the binary was built with `-Zsanitizer=leak`; its
/// report goes to a file named by `LSAN_OPTIONS=log_path`.
fn under_lsan(dir: &Path, binary: &Path, args: &[OsString], test: &str) -> (i32, TestRecord) {
    let mut record = empty(binary, test, "lsan");
    let log = dir.join(format!("lsan-{}", std::process::id()));
    // The slow unwinder: Rust code has no frame pointers, and the fast one
    // skips the frames a reader wants (the binding between CString::new
    // and the test).
    let mut options = format!(
        "log_path={}:exitcode=0:malloc_context_size=40:fast_unwind_on_malloc=0",
        log.display()
    );
    for supp in std::env::split_paths(&std::env::var_os(env::LSAN_SUPPRESSIONS).unwrap_or_default())
    {
        options.push_str(&format!(":suppressions={}", supp.display()));
    }
    let mut cmd = Command::new(binary);
    cmd.args(args).env("LSAN_OPTIONS", options);
    match run_limited(&mut cmd, limit(false), false) {
        Ok((Finished::Exited(status), _, _)) => record.ending = ending(status),
        Ok((timed_out, _, _)) => {
            record.ending = finished_ending(&timed_out);
            return (exit_code(&record.ending), record);
        }
        Err(e) => {
            record.ending = Ending::NotMeasured(format!("cannot run {}: {e}", binary.display()));
            return (101, record);
        }
    }
    // LeakSanitizer appends the pid to log_path.
    let report = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!("lsan-{}.", std::process::id()))
        })
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .collect::<String>();
    let leaks = crate::parse::lsan::parse(&report);
    for leak in &leaks {
        let kinds = match leak.side {
            Side::C => &mut record.c,
            Side::Rust => &mut record.rust,
        };
        kinds.lost.add(leak.objects, leak.bytes);
    }
    record.top_frame = leaks
        .iter()
        .max_by_key(|l| l.bytes)
        .and_then(|l| shown_frame(&l.stack));
    if !leaks.is_empty() {
        record.stacks_from = Some("lsan".into());
    }
    (exit_code(&record.ending), record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glibc_s_abort_messages_are_memory_errors_only_with_sigabrt() {
        let abrt = Ending::Signal(libc::SIGABRT);
        let stderr = "running 1 test\nfree(): double free detected in tcache 2\n";
        let e = glibc_abort(&abrt, stderr).expect("a memory error");
        assert_eq!(e.kind, "double free");
        assert!(e.what.contains("tcache 2"), "{}", e.what);
        assert_eq!(
            glibc_abort(&abrt, "munmap_chunk(): invalid pointer").map(|e| e.kind),
            Some("invalid free".into())
        );
        assert_eq!(
            glibc_abort(&abrt, "corrupted size vs. prev_size").map(|e| e.kind),
            Some("heap corruption".into())
        );
        // A panic's abort, or the message without the abort, is not one.
        assert_eq!(
            glibc_abort(&abrt, "thread panicked: free(x) failed\n"),
            None
        );
        assert_eq!(glibc_abort(&Ending::Failed(101), stderr), None);
    }

    #[test]
    fn memcheck_s_auxiliary_stacks_are_read_as_freed_and_allocated() {
        let frame = |f: &str, line: u32| {
            format!(
                "<frame><fn>{f}</fn><dir>/src</dir><file>lib.rs</file><line>{line}</line></frame>"
            )
        };
        let xml = format!(
            "<valgrindoutput><error><unique>0x1</unique><kind>InvalidRead</kind>\
             <what>Invalid read of size 8</what><stack>{}</stack>\
             <auxwhat>Address 0x0 is 0 bytes inside a block of size 8 free'd</auxwhat>\
             <stack><frame><fn>free</fn><obj>/usr/libexec/valgrind/vgpreload_memcheck-amd64-linux.so</obj></frame>{}</stack>\
             <auxwhat>Block was alloc'd at</auxwhat><stack>{}</stack></error>\
             <errorcounts><pair><count>3</count><unique>0x1</unique></pair></errorcounts></valgrindoutput>",
            frame("reader", 14),
            frame("dropper", 12),
            frame("maker", 10)
        );
        let parsed = xml::parse(&xml).unwrap();
        let errors = memory_errors(&xml, &parsed.errors);
        assert_eq!(errors.len(), 1);
        let e = &errors[0];
        assert_eq!((e.kind.as_str(), e.count), ("InvalidRead", 3));
        assert!(e.at.as_deref().unwrap().contains("reader"), "{e:?}");
        assert!(e.freed_at.as_deref().unwrap().contains("dropper"), "{e:?}");
        assert!(
            e.allocated_at.as_deref().unwrap().contains("maker"),
            "{e:?}"
        );
    }
}

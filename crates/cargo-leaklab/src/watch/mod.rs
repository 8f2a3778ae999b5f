//! `leaklab watch`: run any program and tell whether its memory grows.
//!
//! The watcher samples the program's resident set size every interval
//! ([`sample`]) and, where the preload shim can be loaded into it
//! ([`preload`]), its malloc heap's live blocks and bytes too; it fits a
//! line to each over time and applies the growth detector's rule
//! ([`judge`]). The program runs until it exits, until `--duration` ends
//! or until leaklab is interrupted; then it is stopped ([`stop`]) and the
//! summary is printed all the same.

pub mod judge;

pub mod preload;
pub mod sample;
pub mod sites;
pub mod stop;
pub mod tree;

use std::collections::HashMap;
use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Stdio};

use std::time::{Duration, Instant};

use serde::Serialize;

use judge::Judgement;
use sample::Sample;

/// What to watch and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// The program and its arguments.
    pub program: Vec<OsString>,
    /// Time between two samples.
    pub interval: Duration,
    /// Stop the program after this long.
    pub duration: Option<Duration>,
    /// Samples before this are left out of the fit.
    pub warmup: Duration,
    /// Send the program's standard output to leaklab's standard error (so
    /// leaklab's own standard output stays one JSON object).
    pub stdout_to_stderr: bool,
    /// Cap on the program's address space (RLIMIT_AS, each process) and
    /// on its tree's RSS (the watch stops the tree there), in bytes.
    pub mem_cap: Option<u64>,
    /// Count allocation sites in the shim and name the growing ones.
    pub sites: bool,
    /// Leave a Python interpreter's pymalloc on (by default it runs with
    /// `PYTHONMALLOC=malloc`, so that its objects are malloc blocks).
    pub keep_pymalloc: bool,
    /// Sample one allocation per this many bytes on average (0: all).
    pub sites_sample: u64,
    /// Count the program's output lines that match this (requests).
    pub per: Option<regex::Regex>,
    /// Print the growing sites to stderr this often while the program runs.
    pub every: Option<Duration>,
}

/// A finished watch.
#[derive(Debug, Clone, Serialize)]
pub struct Watch {
    /// The program and its arguments, as text.
    pub program: Vec<String>,
    /// Its process id.
    pub pid: u32,
    /// Seconds between two samples.
    pub interval_secs: f64,
    /// `--duration`, in seconds.
    pub duration_secs: Option<f64>,
    /// `--mem-cap`, in bytes.
    pub mem_cap: Option<u64>,
    /// Samples before this many seconds are not fitted: `--warmup`, or
    /// with `--per` `--warmup` after the first request was counted.
    pub warmup_secs: f64,
    /// Seconds from start to end of the program.
    pub elapsed_secs: f64,
    /// How the program ended.
    pub ending: Ending,
    /// Whether the malloc heap was seen, and if not why not.
    pub heap: HeapSeen,
    /// The fits and the verdict.
    pub judgement: Judgement,
    /// Every sample of the tree (its processes summed), in time order.
    pub samples: Vec<Sample>,
    /// Every process seen in the tree, with its own samples.
    pub processes: Vec<judge::ProcessSeries>,
    /// The allocation sites, fitted and named (None: not counted, and
    /// `sites_note` says why).
    pub sites: Option<sites::SitesReport>,
    /// Why there are no sites, or what limits them.
    pub sites_note: Option<String>,
    /// `--per`: the requests counted and the memory kept per request.
    pub per: Option<PerRequest>,
}

/// `--per REGEX`: the program's output lines that match, as requests.
#[derive(Debug, Clone, Serialize)]
pub struct PerRequest {
    /// The pattern.
    pub pattern: String,
    /// Lines that matched, in all.
    pub requests: u64,
    /// Their rate over the fitted samples (per second), fitted as memory is.
    pub rate: Option<crate::fit::Fit>,
    /// The heap's growth per request: blocks and bytes.
    pub heap_blocks_per_request: Option<f64>,
    pub heap_bytes_per_request: Option<f64>,
}

impl PerRequest {
    /// Requests came at a rate fitted over the fitted samples: memory can
    /// be divided by them.
    pub fn steady(&self) -> bool {
        self.rate.is_some_and(|r| r.determined && r.slope > 0.0)
    }
}

/// Whether the heap series is there.
#[derive(Debug, Clone, Serialize)]
pub struct HeapSeen {
    /// The shim published the program's heap.
    pub seen: bool,
    /// The shim loaded, or why the heap is not seen.
    pub note: String,
}

/// How the program ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ending {
    /// Its own exit status.
    pub status: Status,
    /// Set when the watch stopped it.
    pub stopped: Option<Stopped>,
    /// Set when the program ended by itself but left processes running:
    /// the watch stopped them.
    pub leftovers: Option<Leftovers>,
}

/// Processes the program left running when it ended, stopped by the watch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Leftovers {
    /// Their pids.
    pub pids: Vec<u32>,
    /// The signals sent to them.
    pub signals: Vec<String>,
}

/// A process's exit status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Status {
    /// It exited with this code.
    Exited {
        /// The exit code.
        code: i32,
    },
    /// A signal ended it.
    Signalled {
        /// The signal's number.
        signal: i32,
        /// Its name ("SIGSEGV").
        name: String,
        /// A crash (SIGSEGV, SIGABRT, ...), not a request to stop.
        crash: bool,
    },
}

/// Why and how the watch stopped the program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stopped {
    /// Why.
    pub reason: StopReason,
    /// The signals sent, in order ("SIGTERM", then "SIGKILL" if need be).
    pub signals: Vec<String>,
}

/// Why the watch stopped the program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StopReason {
    /// `--duration` ended.
    Duration,
    /// leaklab got SIGINT (Ctrl-C) or SIGTERM.
    Interrupt,
    /// The tree's RSS reached `--mem-cap`.
    MemCap,
}

impl Status {
    fn of(status: ExitStatus) -> Status {
        match (status.code(), status.signal()) {
            (Some(code), _) => Status::Exited { code },
            (None, Some(signal)) => Status::Signalled {
                signal,
                name: stop::signal_name(signal).to_owned(),
                crash: stop::is_crash(signal),
            },
            (None, None) => Status::Exited { code: -1 },
        }
    }

    /// "exited with status 3", "crashed: signal 11 (SIGSEGV)", "killed by
    /// signal 15 (SIGTERM)".
    pub fn text(&self) -> String {
        match self {
            Status::Exited { code } => format!("exited with status {code}"),
            Status::Signalled {
                signal,
                name,
                crash: true,
            } => format!("crashed: signal {signal} ({name})"),
            Status::Signalled { signal, name, .. } => format!("killed by signal {signal} ({name})"),
        }
    }
}

impl Ending {
    /// The ending in a few words.
    pub fn text(&self) -> String {
        let status = self.status.text();
        let mut text = match &self.stopped {
            None => status,
            Some(s) => {
                let why = match s.reason {
                    StopReason::Duration => "stopped when --duration ended",
                    StopReason::Interrupt => "interrupted",
                    StopReason::MemCap => "stopped at --mem-cap",
                };
                if s.signals.is_empty() {
                    format!("{why}, as it {status}")
                } else {
                    format!("{why} ({} sent): {status}", s.signals.join(", then "))
                }
            }
        };
        if let Some(left) = &self.leftovers {
            let n = left.pids.len();
            text.push_str(&format!(
                "; {n} process{} it left running stopped ({} sent)",
                if n == 1 { "" } else { "es" },
                left.signals.join(", then ")
            ));
        }
        text
    }
}

/// A Python interpreter (`python`, `python3`, `python3.11`, …, by its
/// file name) is run with `PYTHONMALLOC=malloc` unless the environment
/// already sets it: pymalloc carves small objects out of 256 KiB arenas of
/// its own, so a leaked object is no malloc block, and neither the heap
/// line nor the sites would see it. The one line saying so, if set.
fn python_malloc(program: &std::ffi::OsStr, cmd: &mut Command) -> Option<String> {
    let name = std::path::Path::new(program).file_name()?.to_str()?;
    let version = name.strip_prefix("python")?;
    let is_python = version.chars().all(|c| c.is_ascii_digit() || c == '.');
    if !is_python || std::env::var_os("PYTHONMALLOC").is_some() {
        return None;
    }
    cmd.env("PYTHONMALLOC", "malloc");
    Some(format!(
        "leaklab: {name} runs with PYTHONMALLOC=malloc, so that its objects are malloc blocks \
         the heap line and the sites see (--keep-pymalloc: leave pymalloc on)"
    ))
}

/// The program could not be started: one line for the user.
#[derive(Debug)]
pub struct StartError(pub String);

/// Per-process series kept while watching, by pid.
type Tracks = std::collections::BTreeMap<u32, judge::ProcessSeries>;

/// Runs and samples the program until it ends (see the module doc).
pub fn watch(opts: &Options) -> Result<Watch, StartError> {
    let Some((name, args)) = opts.program.split_first() else {
        return Err(StartError("no program to watch".into()));
    };
    let channel = open_channel(opts.interval);
    let mut cmd = Command::new(name);
    cmd.args(args);
    if !opts.keep_pymalloc
        && let Some(line) = python_malloc(name, &mut cmd)
    {
        eprintln!("{line}");
    }
    if opts.stdout_to_stderr {
        use std::os::fd::AsFd;
        let stderr = std::io::stderr()
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| StartError(format!("cannot pass standard error on: {e}")))?;
        cmd.stdout(Stdio::from(stderr));
    }
    if let Ok(ch) = &channel {
        ch.configure(&mut cmd);
    }
    let (site_files, mut sites_note) = match (&channel, opts.sites) {
        (Ok(_), true) => match sites::SiteFiles::create() {
            Ok(files) => {
                files.configure(&mut cmd, opts.sites_sample);
                (Some(files), None)
            }
            Err(e) => (
                None,
                Some(format!(
                    "sites not counted: cannot make their directory: {e}"
                )),
            ),
        },
        (Ok(_), false) => (None, Some("sites not counted (--no-sites)".into())),
        (Err(_), _) => (
            None,
            Some("sites not counted: the shim is not loaded".into()),
        ),
    };
    let mut site_tracker = sites::Tracker::new(opts.warmup.as_secs_f64());
    let requests = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    if opts.per.is_some() {
        cmd.stdout(Stdio::piped());
    }
    if let Some(cap) = opts.mem_cap {
        cap_address_space(&mut cmd, cap);
    }
    stop::catch_interrupts().map_err(|e| StartError(format!("cannot catch Ctrl-C: {e}")))?;
    // Orphans of the tree come back to leaklab, to be sampled and stopped.
    tree::become_subreaper();
    let oom_kills_before = tree::oom_kills();
    let mut child = cmd
        .spawn()
        .map_err(|e| StartError(format!("cannot start {}: {e}", name.to_string_lossy())))?;
    let start = Instant::now();
    let pid = child.id();
    tree::set_root(pid);
    // A second handle on the program's output pipe (`--per`): each sample
    // first lets the counter read what the program wrote.
    let output_pipe = child
        .stdout
        .as_ref()
        .and_then(|o| std::os::fd::AsFd::as_fd(o).try_clone_to_owned().ok());
    let counter = match (&opts.per, child.stdout.take()) {
        (Some(re), Some(out)) => Some(count_lines(
            out,
            re.clone(),
            requests.clone(),
            opts.stdout_to_stderr,
        )),
        _ => None,
    };
    let mut request_points: Vec<(f64, u64)> = Vec::new();
    // When the first request was counted (`--per`): start-up ends there.
    let mut serving_from: Option<f64> = None;
    let mut next_report = opts.every.map(|every| start + every);
    let me = std::process::id();
    let page = crate::fit::page_size();
    let mut samples = Vec::new();
    let mut tracks = Tracks::new();
    let mut refused: Option<(u32, u64)> = None;
    let mut next = start;
    let slice = opts.interval.min(Duration::from_millis(20));
    let mut tree = stop::Tree {
        child: &mut child,
        status: None,
        reaped: Vec::new(),
    };
    let mut capped = false;
    let stopped = loop {
        // The program's end is looked for every slice; orphans reparented
        // to leaklab (a walk of /proc) only as a sample is due.
        let due = Instant::now() >= next;
        if due {
            tree.reap()
        } else {
            tree.reap_program()
        }
        .map_err(|e| StartError(format!("cannot wait for the program: {e}")))?;
        if tree.status.is_some() {
            break None;
        }
        let now = Instant::now();
        if due {
            if let Some(pipe) = &output_pipe {
                wait_for_counter(pipe, Duration::from_millis(10));
            }
            let t = now.duration_since(start).as_secs_f64();
            let counted = requests.load(std::sync::atomic::Ordering::Relaxed);
            if opts.per.is_some() && counted > 0 && serving_from.is_none() {
                serving_from = Some(t);
                site_tracker.first_request(t);
            }
            let mut sites = site_files.as_ref().map(|f| (f, &mut site_tracker));
            let at = sample_tree(
                me,
                pid,
                t,
                page,
                &channel,
                &mut tracks,
                &mut refused,
                sites
                    .as_mut()
                    .map(|(f, t)| (*f, &mut **t, opts.per.as_ref().map(|_| &*requests))),
            );
            request_points.push((t, counted));
            if let Some((sample, raw_rss)) = at {
                capped = opts.mem_cap.is_some_and(|cap| raw_rss >= cap);
                samples.push(sample);
            }
            next += opts.interval;
            if let (Some(at), Some(every)) = (next_report, opts.every)
                && now >= at
            {
                next_report = Some(at + every);
                if opts.per.is_some() && serving_from.is_none() {
                    // Start-up, until the program serves: nothing judged.
                    eprintln!(
                        "leaklab [{t:.1} s] sites: no request counted yet (--per): start-up, \
                         not judged"
                    );
                } else if site_tracker.any() {
                    let fit_from = fit_from(opts.warmup, serving_from);
                    let steady = opts.per.as_ref().is_some_and(|re| {
                        per_request(re.as_str(), 0, &request_points, &samples, fit_from).steady()
                    });
                    let report = site_tracker.report(steady, opts.sites_sample);
                    for line in report.lines(PERIODIC_SITES) {
                        eprintln!("leaklab [{t:.1} s] {line}");
                    }
                }
            }
        }
        let reason = if stop::interrupted() {
            Some((StopReason::Interrupt, libc::SIGINT))
        } else if capped {
            Some((StopReason::MemCap, libc::SIGKILL))
        } else if opts
            .duration
            .is_some_and(|d| now.duration_since(start) >= d)
        {
            Some((StopReason::Duration, libc::SIGTERM))
        } else {
            None
        };
        if let Some((reason, signal)) = reason {
            let signals = tree
                .stop(signal)
                .map_err(|e| StartError(format!("cannot stop the program: {e}")))?;
            break Some(Stopped { reason, signals });
        }
        std::thread::sleep(
            slice
                .min(next.saturating_duration_since(Instant::now()))
                .max(Duration::from_millis(1)),
        );
    };
    let elapsed_secs = start.elapsed().as_secs_f64();
    // The program ended by itself: what it left running is stopped too.
    let left_running = tree.alive();
    let leftovers = if stopped.is_none() && !left_running.is_empty() {
        let signals = tree
            .stop(libc::SIGTERM)
            .map_err(|e| StartError(format!("cannot stop what the program left: {e}")))?;
        Some(Leftovers {
            pids: left_running,
            signals,
        })
    } else {
        None
    };
    let status = match tree.status {
        Some(status) => status,
        None => tree
            .child
            .wait()
            .map_err(|e| StartError(format!("cannot wait for the program: {e}")))?,
    };
    // A process that ran out often exits within one publishing period of
    // its first refusal: its final counts, published at its exit, say so.
    if let Ok(ch) = &channel {
        for &p in tracks.keys() {
            if let Some(n) = ch.published(p).map(|p| p.refused).filter(|&n| n > 0)
                && refused.is_none_or(|(_, most)| n > most)
            {
                refused = Some((p, n));
            }
        }
    }
    let status = Status::of(status);
    let reaped: Vec<(u32, Status)> = tree
        .reaped
        .iter()
        .map(|(p, s)| (*p, Status::of(*s)))
        .collect();
    let evidence = evidence(
        pid,
        &status,
        stopped.as_ref(),
        &reaped,
        refused,
        &tracks,
        oom_kills_before,
        opts.mem_cap,
    );
    let heap = heap_seen(&channel, pid, &samples);
    let warmup_secs = fit_from(opts.warmup, serving_from);
    if let Some(done) = counter {
        // The tree is gone: what it wrote is read to the end (a process it
        // left holding the pipe was stopped above); a process outside the
        // tree that holds it too is not waited for past a second.
        let _ = done.recv_timeout(Duration::from_secs(1));
    }
    let per = opts.per.as_ref().map(|re| {
        per_request(
            re.as_str(),
            requests.load(std::sync::atomic::Ordering::Relaxed),
            &request_points,
            &samples,
            warmup_secs,
        )
    });
    if let Some(files) = &site_files {
        site_tracker.at_exit(files);
    }
    // A table no allocation ever reached: the program's own malloc won
    // over the shim's (and is no copy of leaklab's interposer, which would
    // publish itself), and its sites are not seen, not "none".
    let bypassed = samples.iter().all(|s| s.heap.is_none());
    let sites = if site_tracker.any() && !bypassed {
        let steady = per.as_ref().is_some_and(PerRequest::steady);
        Some(site_tracker.report(steady, opts.sites_sample))
    } else {
        if site_files.is_some() && site_tracker.any() {
            sites_note = Some(
                "sites not seen: the shim saw no allocation (the program defines malloc \
                 itself by other means than leaklab's)"
                    .into(),
            );
        } else if site_files.is_some() {
            sites_note = Some(
                "sites not seen: no process of the tree kept a site table (the shim did not                  load, or the program ended first)"
                    .into(),
            );
        }
        None
    };
    let processes: Vec<judge::ProcessSeries> = tracks.into_values().collect();
    Ok(Watch {
        program: opts
            .program
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
        pid,
        interval_secs: opts.interval.as_secs_f64(),
        duration_secs: opts.duration.map(|d| d.as_secs_f64()),
        mem_cap: opts.mem_cap,
        warmup_secs,
        elapsed_secs,
        ending: Ending {
            status,
            stopped,
            leftovers,
        },
        heap,
        judgement: judge::judge(
            &samples,
            opts.warmup.as_secs_f64(),
            warmup_secs,
            page,
            &processes,
            &evidence,
        ),
        samples,
        processes,
        sites,
        sites_note,
        per,
    })
}

/// Seconds from which samples are fitted: `warmup` after the start, or,
/// once a request was counted (`--per`, first seen at `serving_from`),
/// `warmup` after that: an interpreter's start-up and imports come before
/// its first request and are not growth.
fn fit_from(warmup: Duration, serving_from: Option<f64>) -> f64 {
    serving_from.unwrap_or(0.0) + warmup.as_secs_f64()
}

/// Waits, at most `limit`, until the line counter has read every byte
/// the program wrote to `pipe` so far: the requests counted at a sample
/// are then the ones the program had printed, not fewer by what a busy
/// machine left in the pipe.
fn wait_for_counter(pipe: &std::os::fd::OwnedFd, limit: Duration) {
    use std::os::fd::AsRawFd;
    let until = Instant::now() + limit;
    loop {
        let mut unread: libc::c_int = 0;
        // SAFETY: FIONREAD stores one c_int through the pointer, which
        // points to a live local of that type; the descriptor is open
        // (owned by `pipe`).
        let r = unsafe { libc::ioctl(pipe.as_raw_fd(), libc::FIONREAD, &mut unread) };
        if r != 0 || unread == 0 || Instant::now() >= until {
            return;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// Growing sites printed by `--every`.
const PERIODIC_SITES: usize = 5;

/// Copies the program's output to ours (or to our stderr) as it comes,
/// counting the lines that match `re` into `count`: each chunk read is
/// written on at once, in one write (not a write per line: 11 µs a line
/// at 100 000 lines).
/// The receiver hears when the output ended.
fn count_lines(
    out: std::process::ChildStdout,
    re: regex::Regex,
    count: std::sync::Arc<std::sync::atomic::AtomicU64>,
    to_stderr: bool,
) -> std::sync::mpsc::Receiver<()> {
    let (done, ended) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::{BufRead, Write};
        let counts = |line: &[u8]| {
            if re.is_match(&String::from_utf8_lossy(line)) {
                count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        };
        let mut reader = std::io::BufReader::with_capacity(64 * 1024, out);
        // The start of a line whose end is in a later chunk.
        let mut partial = Vec::new();
        loop {
            let chunk = match reader.fill_buf() {
                Ok([]) | Err(_) => break,
                Ok(chunk) => chunk,
            };
            let mut start = 0;
            for end in chunk
                .iter()
                .enumerate()
                .filter_map(|(i, &b)| (b == b'\n').then_some(i + 1))
            {
                if partial.is_empty() {
                    counts(&chunk[start..end]);
                } else {
                    partial.extend_from_slice(&chunk[start..end]);
                    counts(&partial);
                    partial.clear();
                }
                start = end;
            }
            partial.extend_from_slice(&chunk[start..]);
            // A closed stdout of ours must not stop the counting.
            let _ = if to_stderr {
                std::io::stderr().write_all(chunk)
            } else {
                let mut o = std::io::stdout().lock();
                o.write_all(chunk).and_then(|()| o.flush())
            };
            let n = chunk.len();
            reader.consume(n);
        }
        // A last line without its newline.
        if !partial.is_empty() {
            counts(&partial);
        }
        let _ = done.send(());
    });
    ended
}

/// `--per`: the request rate fitted over the fitted samples, and the
/// heap's slopes divided by it.
fn per_request(
    pattern: &str,
    requests: u64,
    points: &[(f64, u64)],
    samples: &[Sample],
    warmup: f64,
) -> PerRequest {
    let fitted: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.t >= warmup && !s.exiting)
        .collect();
    let (from, to) = match (fitted.first(), fitted.last()) {
        (Some(a), Some(b)) => (a.t, b.t),
        _ => (f64::INFINITY, f64::NEG_INFINITY),
    };
    let req: Vec<(f64, f64)> = points
        .iter()
        .filter(|(t, _)| (from..=to).contains(t))
        .map(|&(t, n)| (t, n as f64))
        .collect();
    let rate = (req.len() >= judge::MIN_POINTS).then(|| crate::fit::fit(&req));
    // Each fitted sample's value against the requests counted as it was
    // taken (the same instant): the slope is per request, whatever the
    // rate did meanwhile.
    let counted: HashMap<u64, f64> = req.iter().map(|&(t, n)| (t.to_bits(), n)).collect();
    let per = |value: &dyn Fn(&Sample) -> Option<f64>| -> Option<f64> {
        rate.filter(|r| r.determined && r.slope > 0.0)?;
        let pts: Vec<(f64, f64)> = fitted
            .iter()
            .filter_map(|s| Some((*counted.get(&s.t.to_bits())?, value(s)?)))
            .collect();
        let f = crate::fit::fit(&pts);
        f.determined.then_some(f.slope)
    };
    PerRequest {
        pattern: pattern.to_owned(),
        requests,
        rate,
        heap_blocks_per_request: per(&|s| s.heap.map(|h| h.blocks as f64)),
        heap_bytes_per_request: per(&|s| s.heap.map(|h| h.bytes as f64)),
    }
}

/// Caps the program's address space (RLIMIT_AS, inherited by everything
/// it starts), as the lab's `run --mem-cap` does: an allocation past it
/// fails (malloc returns NULL, Python raises MemoryError).
fn cap_address_space(cmd: &mut Command, cap: u64) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs between fork and exec and only calls
    // setrlimit, which is async-signal-safe, on a stack value.
    unsafe {
        cmd.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: cap,
                rlim_max: cap,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// One sample of every live process below leaklab: the tree's sum (None
/// once the program itself is gone) and its RSS with the shim's own
/// memory included, for `--mem-cap`. Each process's own sample goes to
/// `tracks`; the most allocations glibc refused one process, to `refused`;
/// each process's sites, with the requests counted (`--per`), to `sites`.
#[allow(clippy::too_many_arguments)]
fn sample_tree(
    me: u32,
    root: u32,
    t: f64,
    page: u64,
    channel: &Result<preload::Channel, String>,
    tracks: &mut Tracks,
    refused: &mut Option<(u32, u64)>,
    mut sites: Option<(
        &sites::SiteFiles,
        &mut sites::Tracker,
        Option<&std::sync::atomic::AtomicU64>,
    )>,
) -> Option<(Sample, u64)> {
    let mut sum = Sample {
        t,
        ..Sample::default()
    };
    let mut raw = 0;
    let mut root_seen = false;
    for p in tree::below(me).into_iter().filter(|p| !p.zombie) {
        let Some(rss) = sample::rss_bytes(p.pid, page) else {
            continue;
        };
        let published = channel.as_ref().ok().and_then(|ch| ch.published(p.pid));
        let shim = published.map_or(0, |p| p.shim_bytes).min(rss);
        let own = Sample {
            t,
            rss_bytes: rss - shim,
            heap: published.and_then(|p| p.heap),
            shim_bytes: shim,
            processes: 1,
            exiting: published.is_some_and(|p| p.exiting),
        };
        if let Some(n) = published.map(|p| p.refused).filter(|&n| n > 0)
            && refused.is_none_or(|(_, most)| n > most)
        {
            *refused = Some((p.pid, n));
        }
        if let (Some((files, tracker, requests)), Some(_)) = (sites.as_mut(), published) {
            tracker.sample(files, p.pid, t, *requests, own.exiting);
        }
        raw += rss;
        sum.rss_bytes += own.rss_bytes;
        sum.shim_bytes += shim;
        sum.processes += 1;
        sum.heap = match (sum.heap, own.heap) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
        if p.pid == root {
            root_seen = true;
            sum.exiting = own.exiting;
        }
        let track = tracks.entry(p.pid).or_insert_with(|| judge::ProcessSeries {
            pid: p.pid,
            command: String::new(),
            samples: Vec::new(),
        });
        // Re-read each time: a fork that execs changes it.
        if let Some(command) = tree::command_of(p.pid) {
            track.command = command;
        }
        track.samples.push(own);
    }
    root_seen.then_some((sum, raw))
}

/// What the ending says besides the samples: out of memory (glibc refused
/// an allocation, `--mem-cap` reached, or the kernel's OOM killer), or a
/// crash of the program or of a descendant leaklab reaped.
#[allow(clippy::too_many_arguments)]
fn evidence(
    root: u32,
    status: &Status,
    stopped: Option<&Stopped>,
    reaped: &[(u32, Status)],
    refused: Option<(u32, u64)>,
    tracks: &Tracks,
    oom_kills_before: Option<u64>,
    mem_cap: Option<u64>,
) -> judge::Evidence {
    let name = |pid: u32| {
        let command = tracks.get(&pid).map_or("", |t| t.command.as_str());
        format!("pid {pid} ({})", short(command))
    };
    let ours: Vec<(u32, &Status)> = std::iter::once((root, status))
        .chain(reaped.iter().map(|(p, s)| (*p, s)))
        .collect();
    // Only what the tree did by itself: not the signals the watch sent.
    let by_itself = stopped.is_none();
    let killed = ours.iter().find(|(_, s)| {
        by_itself && matches!(s, Status::Signalled { signal, .. } if *signal == libc::SIGKILL)
    });
    let oom_killed = killed.is_some()
        && oom_kills_before
            .zip(tree::oom_kills())
            .is_some_and(|(before, after)| after > before);
    let out_of_memory = if let Some((pid, n)) = refused {
        Some(format!(
            "malloc refused {n} allocation{} in {}{}",
            if n == 1 { "" } else { "s" },
            name(pid),
            mem_cap.map_or(String::new(), |c| format!(
                " (--mem-cap {})",
                crate::units::bytes(c)
            ))
        ))
    } else if stopped.is_some_and(|s| s.reason == StopReason::MemCap) {
        mem_cap.map(|c| {
            format!(
                "the tree's RSS reached --mem-cap {}",
                crate::units::bytes(c)
            )
        })
    } else if oom_killed {
        killed.map(|(pid, _)| format!("{} was killed by the kernel's OOM killer", name(*pid)))
    } else {
        None
    };
    let crash = ours.iter().find_map(|(pid, s)| match s {
        Status::Signalled { crash: true, .. } if by_itself => {
            Some(format!("{} {}", name(*pid), s.text()))
        }
        _ => None,
    });
    judge::Evidence {
        out_of_memory,
        crash,
    }
}

/// A command line cut to 40 characters.
fn short(command: &str) -> String {
    match command.char_indices().nth(40) {
        Some((cut, _)) => format!("{}...", &command[..cut]),
        None => command.to_owned(),
    }
}

/// The shim's channel, publishing twice per sample (at most every 5 ms).
fn open_channel(interval: Duration) -> Result<preload::Channel, String> {
    let shim = preload::locate()?;
    let publish = (interval / 2).max(Duration::from_millis(5));
    preload::Channel::open(shim, publish)
        .map_err(|e| format!("cannot share a page with the shim: {e}"))
}

fn heap_seen(channel: &Result<preload::Channel, String>, pid: u32, samples: &[Sample]) -> HeapSeen {
    match channel {
        Err(why) => HeapSeen {
            seen: false,
            note: format!("heap not seen: {why}"),
        },
        Ok(ch) if samples.iter().any(|s| s.heap.is_some()) => HeapSeen {
            seen: true,
            note: format!("malloc heap counted by {}", ch.shim().display()),
        },
        Ok(ch) if ch.loaded_in(pid) => HeapSeen {
            seen: false,
            note: "heap not seen: the shim loaded but saw no allocation (the program defines \
                   malloc itself by other means than leaklab's, so the shim's is never called), \
                   or published nothing (the program ended first, or exec'd another without \
                   LD_PRELOAD)"
                .into(),
        },
        Ok(_) => HeapSeen {
            seen: false,
            note: "heap not seen: the shim did not load into the program (a static or setuid binary, or one that clears LD_PRELOAD)".into(),
        },
    }
}

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
pub mod stop;

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
    /// Samples before this many seconds are not fitted.
    pub warmup_secs: f64,
    /// Seconds from start to end of the program.
    pub elapsed_secs: f64,
    /// How the program ended.
    pub ending: Ending,
    /// Whether the malloc heap was seen, and if not why not.
    pub heap: HeapSeen,
    /// The fits and the verdict.
    pub judgement: Judgement,
    /// Every sample, in time order.
    pub samples: Vec<Sample>,
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
        match &self.stopped {
            None => status,
            Some(s) => {
                let why = match s.reason {
                    StopReason::Duration => "stopped when --duration ended",
                    StopReason::Interrupt => "interrupted",
                };
                if s.signals.is_empty() {
                    format!("{why}, as it {status}")
                } else {
                    format!("{why} ({} sent): {status}", s.signals.join(", then "))
                }
            }
        }
    }
}

/// The program could not be started: one line for the user.
#[derive(Debug)]
pub struct StartError(pub String);

/// Runs and samples the program until it ends (see the module doc).
pub fn watch(opts: &Options) -> Result<Watch, StartError> {
    let Some((name, args)) = opts.program.split_first() else {
        return Err(StartError("no program to watch".into()));
    };
    let channel = open_channel(opts.interval);
    let mut cmd = Command::new(name);
    cmd.args(args);
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
    stop::catch_interrupts().map_err(|e| StartError(format!("cannot catch Ctrl-C: {e}")))?;
    let mut child = cmd
        .spawn()
        .map_err(|e| StartError(format!("cannot start {}: {e}", name.to_string_lossy())))?;
    let start = Instant::now();
    let pid = child.id();
    let page = crate::fit::page_size();
    let mut samples = Vec::new();
    let mut next = start;
    let slice = opts.interval.min(Duration::from_millis(20));
    let (status, stopped) = loop {
        match child.try_wait() {
            Ok(Some(status)) => break (status, None),
            Ok(None) => {}
            Err(e) => return Err(StartError(format!("cannot wait for the program: {e}"))),
        }
        let now = Instant::now();
        if now >= next {
            if let Some(rss_bytes) = sample::rss_bytes(pid, page) {
                samples.push(Sample {
                    t: now.duration_since(start).as_secs_f64(),
                    rss_bytes,
                    heap: channel.as_ref().ok().and_then(|ch| ch.read(pid)),
                });
            }
            next += opts.interval;
        }
        let reason = if stop::interrupted() {
            Some((StopReason::Interrupt, libc::SIGINT))
        } else if opts
            .duration
            .is_some_and(|d| now.duration_since(start) >= d)
        {
            Some((StopReason::Duration, libc::SIGTERM))
        } else {
            None
        };
        if let Some((reason, signal)) = reason {
            let (status, signals) = stop::stop(&mut child, signal)
                .map_err(|e| StartError(format!("cannot stop the program: {e}")))?;
            break (status, Some(Stopped { reason, signals }));
        }
        std::thread::sleep(
            slice
                .min(next.saturating_duration_since(Instant::now()))
                .max(Duration::from_millis(1)),
        );
    };
    let elapsed_secs = start.elapsed().as_secs_f64();
    let heap = heap_seen(&channel, pid, &samples);
    let warmup_secs = opts.warmup.as_secs_f64();
    Ok(Watch {
        program: opts
            .program
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
        pid,
        interval_secs: opts.interval.as_secs_f64(),
        duration_secs: opts.duration.map(|d| d.as_secs_f64()),
        warmup_secs,
        elapsed_secs,
        ending: Ending {
            status: Status::of(status),
            stopped,
        },
        heap,
        judgement: judge::judge(&samples, warmup_secs, page),
        samples,
    })
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
            note: "heap not seen: the shim loaded but published nothing (the program ended \
                   first, or exec'd another without LD_PRELOAD)"
                .into(),
        },
        Ok(_) => HeapSeen {
            seen: false,
            note: "heap not seen: the shim did not load into the program (a static or setuid binary, or one that clears LD_PRELOAD)".into(),
        },
    }
}

//! Which code keeps the memory: the shim's allocation sites (read by
//! [`crate::sites`], the reader `cargo leaklab test` shares), sampled
//! with the rest, each site's live bytes fitted over time as the heap is,
//! and the sites that climb named (library, function, file:line: the
//! shared symbolizer, one `addr2line` server per object).
//!
//! A site's frames are raw return addresses of its process; they become
//! object + offset through that process's `/proc/PID/maps`, read while
//! it runs (again whenever it has new sites: a library it loaded since),
//! or, for a process that ended before they were read, the copy the shim
//! wrote at its exit.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use crate::fit::{COUNTERS_MIN_SLOPE, Fit};
use crate::sites::{Counts, file_name, object_at};
pub use crate::sites::{HeaderCounts, SiteFiles, objects_of};
use leaklab::check::{LoadedObject, raw_stack_frames};
use leaklab::watch_sites::{self as layout, FRAMES, OTHER, SITES, UNWALKED};

/// A least-squares line kept up to date point by point (Welford's
/// updates): the fit `fit::fit` makes of the same points, in constant
/// memory, so that an hour's watch of thousands of sites keeps no series.
#[derive(Debug, Clone, Copy, Default)]
struct Running {
    n: usize,
    mean_x: f64,
    mean_y: f64,
    cxx: f64,
    cxy: f64,
    cyy: f64,
    first_y: f64,
    last_y: f64,
}

impl Running {
    fn add(&mut self, x: f64, y: f64) {
        if self.n == 0 {
            self.first_y = y;
        }
        self.n += 1;
        let n = self.n as f64;
        let dx = x - self.mean_x;
        let dy = y - self.mean_y;
        self.mean_x += dx / n;
        self.mean_y += dy / n;
        self.cxx += dx * (x - self.mean_x);
        self.cxy += dx * (y - self.mean_y);
        self.cyy += dy * (y - self.mean_y);
        self.last_y = y;
    }

    fn fit(&self) -> Fit {
        if self.n < 2 || self.cxx <= 0.0 {
            return Fit {
                points: self.n,
                determined: false,
                slope: 0.0,
                intercept: self.mean_y,
                r_squared: 0.0,
            };
        }
        let slope = self.cxy / self.cxx;
        let r_squared = if self.cyy <= 0.0 {
            1.0
        } else {
            (1.0 - (self.cyy - slope * self.cxy) / self.cyy).clamp(0.0, 1.0)
        };
        Fit {
            points: self.n,
            determined: true,
            slope,
            intercept: self.mean_y - slope * self.mean_x,
            r_squared,
        }
    }

    /// The last fitted value less the first.
    fn rise(&self) -> f64 {
        self.last_y - self.first_y
    }
}

/// One site of one process over time.
struct Track {
    frames: Option<Vec<u64>>,
    /// Its live bytes at each fitted sample, as a running line (a site
    /// first seen late counts 0 bytes at the samples before).
    line: Running,
    /// The same live bytes against the requests counted at each fitted
    /// sample (`--per`) as they were read: the slope is the bytes kept
    /// per request.
    per: Running,
    /// The requests counted when it was last read.
    requests: Option<f64>,
    /// Its live bytes at the fitted samples, for the plot: at most
    /// [`SERIES`] points, every other one dropped when full.
    series: Series,
    /// The reading it was last seen in.
    seen: u64,
    last: Counts,
    /// Lost and possibly lost at exit (blocks, bytes each), by the
    /// shim's scan.
    lost: Option<[i64; 4]>,
}

/// Points a site's series keeps for the plot (a few thousand sites'
/// series stay a few MiB).
const SERIES: usize = 256;

/// A bounded series of (seconds, bytes): when full, every other point is
/// dropped and only every `stride`-th sample after is kept, so it spans
/// the whole run at a coarser step.
#[derive(Clone, Default)]
struct Series {
    points: Vec<(f32, f32)>,
    stride: u32,
    skipped: u32,
}

impl Series {
    fn add(&mut self, t: f64, bytes: f64) {
        self.stride = self.stride.max(1);
        self.skipped += 1;
        if self.skipped < self.stride {
            return;
        }
        self.skipped = 0;
        if self.points.len() == SERIES {
            let kept: Vec<(f32, f32)> = self.points.iter().copied().step_by(2).collect();
            self.points = kept;
            self.stride *= 2;
        }
        self.points.push((t as f32, bytes as f32));
    }
}

/// One process's sites over time.
#[derive(Default)]
struct ProcessSites {
    /// When its table was first read: its warm-up counts from there.
    first: Option<f64>,
    /// Readings so far.
    readings: u64,
    /// Fitted samples so far, as the line of a site that kept 0 bytes: a
    /// site seen for the first time starts from it.
    zero: Running,
    /// The same against the requests counted.
    zero_per: Running,
    sites: HashMap<u32, Track>,
    header: HeaderCounts,
    used: u64,
    objects: Vec<LoadedObject>,
    /// `used` when the maps were last read.
    maps_at: Option<u64>,
    /// Its scan at exit told the sites what was lost.
    scanned: bool,
}

/// Every process's sites over time, by pid and table (a process that
/// execs starts a new table, of another program: its sites are another
/// image's, fitted apart).
pub struct Tracker {
    processes: BTreeMap<(u32, u64), ProcessSites>,
    /// Seconds after a process's first reading left out of its sites' fits.
    warmup: f64,
    /// No sample before this time (seconds) is fitted: `warmup` after the
    /// first request (`--per`), once there is one.
    fit_from: f64,
}

impl Tracker {
    /// A tracker leaving the first `warmup` seconds of each process out of
    /// its sites' fits (and samples taken as it exited).
    pub fn new(warmup: f64) -> Tracker {
        Tracker {
            processes: BTreeMap::new(),
            warmup,
            fit_from: 0.0,
        }
    }

    /// The program served its first request (`--per`) at `t`: what came
    /// before is start-up (an interpreter's, its imports), so every fit
    /// starts over, and takes samples from `warmup` after `t` on.
    pub fn first_request(&mut self, t: f64) {
        self.fit_from = t + self.warmup;
        for p in self.processes.values_mut() {
            p.zero = Running::default();
            p.zero_per = Running::default();
            for track in p.sites.values_mut() {
                track.line = Running::default();
                track.series = Series::default();
                track.per = Running::default();
            }
        }
    }

    /// Reads process `pid`'s table at time `t`, with the count of
    /// `requests` (`--per`) as it is read; false if it has none.
    pub fn sample(
        &mut self,
        files: &SiteFiles,
        pid: u32,
        t: f64,
        requests: Option<&AtomicU64>,
        exiting: bool,
    ) -> bool {
        let Some(reading) = files.read(pid, requests) else {
            return false;
        };
        let p = self.processes.entry((pid, reading.file)).or_default();
        let first = *p.first.get_or_insert(t);
        let fitted = t >= first + self.warmup && t >= self.fit_from && !exiting;
        p.readings += 1;
        p.header = reading.header;
        p.used = reading.used;
        for s in reading.sites {
            let (zero, zero_per) = (p.zero, p.zero_per);
            let track = p.sites.entry(s.index).or_insert_with(|| Track {
                frames: None,
                line: zero,
                per: zero_per,
                requests: None,
                series: Series::default(),
                seen: 0,
                last: Counts::default(),
                lost: None,
            });
            if track.frames.is_none() {
                track.frames = s.frames;
            }
            track.seen = p.readings;
            track.last = s.counts;
            track.requests = s.requests;
        }
        if fitted {
            // A site this reading missed (its slot of the order list not
            // yet written) keeps its last value.
            for track in p.sites.values_mut() {
                let bytes = track.last.live_bytes as f64;
                track.line.add(t, bytes);
                track.series.add(t, bytes);
                if let Some(n) = track.requests {
                    track.per.add(n, bytes);
                }
            }
            p.zero.add(t, 0.0);
            if let Some(n) = requests.map(|r| r.load(Ordering::Relaxed) as f64) {
                p.zero_per.add(n, 0.0);
            }
        }
        // A process being reaped has an empty map: its objects stay.
        if p.maps_at != Some(p.used)
            && let Some(objects) = objects_of(pid).filter(|o| !o.is_empty())
        {
            p.objects = objects;
            p.maps_at = Some(p.used);
        }
        true
    }

    /// After the tree ended: what each process's scan at exit found lost,
    /// per site (a process stopped by a signal made no scan).
    pub fn at_exit(&mut self, files: &SiteFiles) {
        for (&(pid, file), p) in &mut self.processes {
            let Some(reading) = files
                .read(pid, None)
                .filter(|r| r.file == file && r.scanned)
            else {
                continue;
            };
            p.scanned = true;
            if p.objects.is_empty()
                && let Some(objects) = files.objects_at_exit(pid)
            {
                p.objects = objects;
            }
            for s in reading.sites {
                if let Some(track) = p.sites.get_mut(&s.index) {
                    track.lost = Some(s.lost);
                }
            }
        }
    }

    /// Whether any process had a table.
    pub fn any(&self) -> bool {
        !self.processes.is_empty()
    }
}

/// One site as reported.
#[derive(Debug, Clone, Serialize)]
pub struct SiteReport {
    /// The process.
    pub pid: u32,
    /// "stack", or "other" (stacks the full table could not take), or
    /// "unwalked" (allocations that re-entered the allocator: no stack).
    pub kind: &'static str,
    /// Its live bytes climb steadily after the warm-up: it keeps memory.
    pub grows: bool,
    /// The fit of its live bytes over the fitted samples (bytes/second).
    pub fit: Fit,
    /// Bytes kept per request (`--per`): the slope of its live bytes
    /// against the requests counted at the same samples.
    pub bytes_per_request: Option<f64>,
    /// At exit, by the shim's conservative scan: its blocks no pointer
    /// reached, and their bytes (None: no scan, the process did not end
    /// through `exit`). A floor: under watch freed memory is not zeroed,
    /// so a stale pointer left in it can make a lost block look reached.
    pub lost_blocks: Option<i64>,
    pub lost_bytes: Option<i64>,
    /// At exit: its blocks reached only through pointers into their
    /// middle (possibly lost), and their bytes; None as above.
    pub possible_blocks: Option<i64>,
    pub possible_bytes: Option<i64>,
    /// Live blocks and bytes at the last sample, allocations and frees.
    pub live_blocks: i64,
    pub live_bytes: i64,
    pub allocations: u64,
    pub frees: u64,
    /// The frame shown, by the leak checks' rule (your innermost frame,
    /// else the first outside the allocator): its library, function, file
    /// and line (function, file and line where symbols say).
    pub library: Option<String>,
    pub function: Option<String>,
    pub file: Option<String>,
    pub line: Option<u32>,
    /// The innermost frame outside the allocator, when it is not the one
    /// shown (a library's function your code called: libc's strdup,
    /// libstdc++'s operator new), with its file:line and library.
    pub inner: Option<String>,
    /// Every frame, innermost first: "library+0xoffset", and the function
    /// and file:line for the sites that were symbolized.
    pub frames: Vec<String>,
    /// Its live bytes over the fitted samples (seconds, bytes), for
    /// `--plot` (at most 256 points; not in the JSON).
    #[serde(skip)]
    pub series: Vec<(f64, f64)>,
}

/// What the sites say.
#[derive(Debug, Clone, Serialize)]
pub struct SitesReport {
    /// 0: every allocation was attributed (exact counts); else the mean
    /// bytes between sampled allocations, and every count is an estimate.
    pub sample_bytes: u64,
    /// The caps: sites per process (two reserved), frames per site, and
    /// blocks attributed at once.
    pub cap_sites: usize,
    pub cap_frames: usize,
    pub cap_blocks: usize,
    /// Fitted samples (a process's own warm-up rule) of the longest-lived
    /// process: fewer than judge's MIN_POINTS and nothing is decided.
    pub fitted: usize,
    /// Sites whose live bytes climb.
    pub growing: usize,
    /// Every site seen, the growing first (steepest first), then by live
    /// bytes.
    pub sites: Vec<SiteReport>,
    /// Per process: what could not be attributed.
    pub processes: Vec<ProcessNote>,
    /// Objects whose frames have no symbols (stripped, no debug info).
    pub missing_symbols: Vec<String>,
}

/// One process's table, in counts.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessNote {
    pub pid: u32,
    /// Sites it used (of `cap_sites`).
    pub sites_used: u64,
    /// Its scan at exit told the sites what was lost (it ended through
    /// `exit`).
    pub scanned_at_exit: bool,
    #[serde(flatten)]
    pub header: HeaderCounts,
}

/// How many sites are symbolized in full (the growing ones always).
const SYMBOLIZED: usize = 20;

impl Tracker {
    /// Fits every site and names them: `warmup` seconds after each
    /// process's first sample are left out, as are samples taken as it
    /// exited. `per_request`: requests were counted (`--per`), so each
    /// growing site's bytes per request are its live bytes fitted against
    /// the requests counted.
    pub fn report(&self, per_request: bool, sample_bytes: u64) -> SitesReport {
        let mut sites = Vec::new();
        let mut notes = Vec::new();
        let mut most_fitted = 0;
        let mut objects_of_image: HashMap<usize, &[LoadedObject]> = HashMap::new();
        let mut stacks: Vec<Option<(usize, Vec<u64>)>> = Vec::new();
        for (image, (&(pid, _), p)) in self.processes.iter().enumerate() {
            objects_of_image.insert(image, &p.objects);
            notes.push(ProcessNote {
                pid,
                sites_used: p.used,
                scanned_at_exit: p.scanned,
                header: p.header,
            });
            most_fitted = most_fitted.max(p.zero.n);
            for (&index, track) in &p.sites {
                let f = track.line.fit();
                let grows = f.points >= super::judge::MIN_POINTS
                    && f.climbs(COUNTERS_MIN_SLOPE)
                    && track.line.rise() > 0.0;
                let last = track.last;
                if last.allocations == 0 && last.live_blocks == 0 {
                    continue;
                }
                let lost = p.scanned.then(|| track.lost.unwrap_or([0; 4]));
                let kind = match index as usize {
                    OTHER => "other",
                    UNWALKED => "unwalked",
                    _ => "stack",
                };
                stacks.push(match (kind, track.frames.clone()) {
                    ("stack", Some(f)) => Some((image, f)),
                    _ => None,
                });
                sites.push(SiteReport {
                    pid,
                    kind,
                    grows,
                    fit: f,
                    bytes_per_request: (per_request && grows)
                        .then(|| track.per.fit())
                        .filter(|per| per.determined)
                        .map(|per| per.slope),
                    lost_blocks: lost.map(|l| l[0]),
                    lost_bytes: lost.map(|l| l[1]),
                    possible_blocks: lost.map(|l| l[2]),
                    possible_bytes: lost.map(|l| l[3]),
                    live_blocks: last.live_blocks,
                    live_bytes: last.live_bytes,
                    allocations: last.allocations,
                    frees: last.frees,
                    library: None,
                    function: None,
                    file: None,
                    line: None,
                    inner: None,
                    frames: Vec::new(),
                    series: track
                        .series
                        .points
                        .iter()
                        .map(|&(t, b)| (f64::from(t), f64::from(b)))
                        .collect(),
                });
            }
        }
        // The growing first (steepest first), then by live bytes.
        let mut order: Vec<usize> = (0..sites.len()).collect();
        order.sort_by(|&a, &b| {
            let (x, y) = (&sites[a], &sites[b]);
            y.grows.cmp(&x.grows).then(
                y.fit
                    .slope
                    .partial_cmp(&x.fit.slope)
                    .unwrap_or(std::cmp::Ordering::Equal)
                    .then(y.live_bytes.cmp(&x.live_bytes))
                    .then(x.pid.cmp(&y.pid))
                    .then(x.allocations.cmp(&y.allocations)),
            )
        });
        let mut sorted: Vec<SiteReport> = Vec::with_capacity(sites.len());
        let mut sorted_stacks = Vec::with_capacity(sites.len());
        for i in order {
            sorted.push(sites[i].clone());
            sorted_stacks.push(stacks[i].take());
        }
        let mut missing = Vec::new();
        for (n, (site, stack)) in sorted.iter_mut().zip(&sorted_stacks).enumerate() {
            let Some((image, frames)) = stack else {
                site.function = Some(match site.kind {
                    "other" => "(other sites: stacks the full site table could not take)".into(),
                    "unwalked" => "(no stack: allocations that re-entered the allocator, \
                                   e.g. in a signal handler or the unwinder)"
                        .into(),
                    _ => "(a stack still being written when sampled)".into(),
                });
                continue;
            };
            let objects = objects_of_image.get(image).copied().unwrap_or(&[]);
            name_site(
                site,
                objects,
                frames,
                site.grows || n < SYMBOLIZED,
                &mut missing,
            );
        }
        missing.sort();
        missing.dedup();
        SitesReport {
            sample_bytes,
            cap_sites: SITES,
            cap_frames: FRAMES,
            cap_blocks: layout::MAP_SLOTS,
            fitted: most_fitted,
            growing: sorted.iter().filter(|s| s.grows).count(),
            sites: sorted,
            processes: notes,
            missing_symbols: missing,
        }
    }
}

impl SiteReport {
    /// "+9.8 KiB/s (R² 1.00), 100 B per request; 1000 blocks / 97.7 KiB
    /// live: leak_one at leak.c:6 in leak" (live: at the last sample).
    pub fn text(&self, with_pid: bool) -> String {
        use crate::units::bytes;
        let sign = if self.fit.slope < 0.0 { "-" } else { "+" };
        let mut t = format!(
            "{sign}{}/s (R² {:.2})",
            bytes(self.fit.slope.abs().round() as u64),
            self.fit.r_squared
        );
        if let Some(b) = self.bytes_per_request {
            t.push_str(&format!(
                ", {} per request",
                bytes(b.max(0.0).round() as u64)
            ));
        }
        t.push_str(&format!(
            "; {} block{} / {} live: {}",
            self.live_blocks,
            if self.live_blocks == 1 { "" } else { "s" },
            bytes(self.live_bytes.max(0) as u64),
            self.place()
        ));
        if with_pid {
            t.push_str(&format!(" [pid {}]", self.pid));
        }
        let plural = |n: i64| if n == 1 { "" } else { "s" };
        match (self.lost_blocks, self.lost_bytes) {
            (Some(0), _) => t.push_str("; at exit no block of it found lost"),
            (Some(blocks), Some(b)) => t.push_str(&format!(
                "; at exit at least {blocks} block{} / {} lost (no pointer to them)",
                plural(blocks),
                bytes(b.max(0) as u64)
            )),
            _ => {}
        }
        if let (Some(blocks), Some(b)) = (self.possible_blocks, self.possible_bytes)
            && blocks > 0
        {
            t.push_str(&format!(
                ", {blocks} block{} / {} possibly lost (pointers into their middle only)",
                plural(blocks),
                bytes(b.max(0) as u64)
            ));
        }
        t
    }

    /// "leak_one at src/leak.c:6 (leak)".
    pub fn place(&self) -> String {
        let function = self.function.as_deref().unwrap_or("???");
        let at = match (&self.file, self.line) {
            (Some(f), Some(l)) => format!(" at {f}:{l}"),
            (Some(f), None) => format!(" at {f}"),
            _ => String::new(),
        };
        let lib = match &self.library {
            Some(l) if !function.starts_with(&format!("{l}+")) => format!(" in {l}"),
            _ => String::new(),
        };
        let inner = self
            .inner
            .as_ref()
            .map_or(String::new(), |c| format!(", allocated in {c}"));
        format!("{function}{at}{lib}{inner}")
    }
}

impl SitesReport {
    /// The lines of the summary about sites (indented by the caller).
    pub fn lines(&self, top: usize) -> Vec<String> {
        let mut out = Vec::new();
        let pids = self.processes.len();
        // Every site that allocated: stacks, and "other" / "no stack".
        let stacks = self.sites.len();
        let multi = pids > 1;
        if self.fitted < super::judge::MIN_POINTS {
            out.push(format!(
                "sites: {stacks} allocation sites seen, too few samples after the warm-up \
                 ({}) to fit them: undecided",
                self.fitted
            ));
        } else if self.growing == 0 {
            out.push(format!(
                "sites: none of {stacks} allocation sites{} keeps memory steadily after the \
                 warm-up (each fitted: +1 B/s with R² >= {} to count)",
                if multi {
                    format!(" in {pids} processes")
                } else {
                    String::new()
                },
                crate::fit::MIN_R_SQUARED
            ));
        } else {
            out.push(format!(
                "sites: {} of {stacks} allocation sites{} keep memory, the steepest first:",
                self.growing,
                if multi {
                    format!(" in {pids} processes")
                } else {
                    String::new()
                }
            ));
            for s in self.sites.iter().filter(|s| s.grows).take(top) {
                out.push(format!("  {}", s.text(multi)));
            }
            if self.growing > top {
                out.push(format!(
                    "  ... and {} more (--json has them all)",
                    self.growing - top
                ));
            }
        }
        if self.sample_bytes > 0 {
            out.push(format!(
                "(sites sampled: one allocation per {} on average; their blocks and bytes are \
                 estimates)",
                crate::units::bytes(self.sample_bytes)
            ));
        }
        for lib in &self.missing_symbols {
            out.push(format!(
                "symbols missing in {lib} (stripped, or no debug info): its sites are shown as \
                 library+offset"
            ));
        }
        for p in &self.processes {
            let h = &p.header;
            let mut lost = Vec::new();
            if h.full > 0 {
                lost.push(format!(
                    "the site table ({} stacks) was full: {} allocations of other stacks \
                     counted under \"other sites\"",
                    h.cap, h.full
                ));
            }
            if h.unmapped_blocks > 0 {
                lost.push(format!(
                    "{} allocations ({}) attributed to no site: the block map ({} blocks) was full",
                    h.unmapped_blocks,
                    crate::units::bytes(h.unmapped_bytes),
                    self.cap_blocks
                ));
            }
            if !lost.is_empty() {
                out.push(format!("sites of pid {}: {}", p.pid, lost.join("; ")));
            }
        }
        out
    }
}

/// Fills in where `site` allocates: its frames as object+offset, and, if
/// `symbolize`, the frame shown by name (`leaklab::check::shown_frames`).
fn name_site(
    site: &mut SiteReport,
    objects: &[LoadedObject],
    frames: &[u64],
    symbolize: bool,
    missing: &mut Vec<String>,
) {
    let raw: Vec<String> = frames
        .iter()
        .map(|&ip| {
            let a = (ip as usize).saturating_sub(1);
            match object_at(objects, a) {
                Some(o) => format!("{}+{:#x}", file_name(&o.path), a - o.base),
                None => format!("{a:#x}"),
            }
        })
        .collect();
    let first_object = frames
        .first()
        .and_then(|&ip| object_at(objects, (ip as usize).saturating_sub(1)));
    site.library = first_object.map(|o| file_name(&o.path));
    site.frames = raw.clone();
    if objects.is_empty() {
        site.function = Some(format!(
            "{} (the process ended before its objects were read: no names)",
            raw.first().map_or("?", String::as_str)
        ));
        return;
    }
    if !symbolize {
        site.function = raw.first().cloned();
        return;
    }
    // Each frame named on its own (addr2line's answers are cached), so
    // that each name keeps its object; the allocator's own frames at the
    // top (malloc, the shim's) name nothing and are skipped.
    let named: Vec<(usize, Vec<leaklab::check::Frame>)> = frames
        .iter()
        .enumerate()
        .map(|(i, &ip)| (i, raw_stack_frames(objects, &[ip as usize])))
        .skip_while(|(_, n)| n.is_empty())
        .collect();
    let Some((top_index, top)) = named.first().and_then(|(i, n)| Some((*i, n.first()?))) else {
        site.function = raw.first().cloned();
        return;
    };
    let library_of = |i: usize| {
        frames
            .get(i)
            .and_then(|&ip| object_at(objects, (ip as usize).saturating_sub(1)))
            .map(|o| file_name(&o.path))
    };
    if top.file.is_none() {
        missing.push(library_of(top_index).unwrap_or_else(|| "?".into()));
    }
    // The frame shown: the leak checks' rule (`leaklab::check::
    // shown_frames`, as `cargo leaklab test`'s top frame column), your
    // innermost frame, else the first above the allocator.
    // An object a Python interpreter made for an extension module (the
    // extra reference's bytes object): the extension asked for it, so the
    // interpreter's own frames are passed over where a frame of other code
    // (not the C runtime's: `__libc_start_main` is below every stack)
    // remains.
    let all: Vec<(usize, &leaklab::check::Frame)> = named
        .iter()
        .flat_map(|(i, n)| n.iter().map(move |f| (*i, f)))
        .collect();
    let outside: Vec<(usize, &leaklab::check::Frame)> = all
        .iter()
        .copied()
        .filter(|(i, _)| {
            !library_of(*i)
                .as_deref()
                .is_some_and(|l| is_interpreter(l) || is_runtime(l))
        })
        .collect();
    let flat = if outside.is_empty() { all } else { outside };
    let shown = leaklab::check::shown_frames(
        flat.iter()
            .map(|(_, f)| (Some(f.function.clone()), f.file.clone(), f.line)),
    );
    let (index, shown) = shown
        .first()
        .and_then(|s| {
            flat.iter()
                .find(|(_, f)| f.function == s.function && f.line == s.line)
                .map(|(i, _)| (*i, s.clone()))
        })
        .unwrap_or_else(|| (top_index, top.clone()));
    site.library = library_of(index).or(site.library.take());
    site.function = Some(shown.function.clone());
    site.file = shown.file.clone();
    site.line = shown.line;
    // The innermost frame, when it is another (a library your code
    // called: libc's strdup, libstdc++'s operator new).
    if (index, &shown.function) != (top_index, &top.function) {
        let at = match (&top.file, top.line) {
            (Some(file), Some(line)) => format!(" at {file}:{line}"),
            _ => String::new(),
        };
        let lib = library_of(top_index).map_or(String::new(), |l| format!(" in {l}"));
        site.inner = Some(format!("{}{at}{lib}", top.function));
    }
    site.frames = named
        .iter()
        .flat_map(|(_, n)| n)
        .map(|f| match (&f.file, f.line) {
            (Some(file), Some(line)) => format!("{} ({file}:{line})", f.function),
            (Some(file), None) => format!("{} ({file})", f.function),
            _ => f.function.clone(),
        })
        .collect();
}

/// The C and C++ runtime's libraries.
fn is_runtime(library: &str) -> bool {
    [
        "libc.so",
        "ld-linux",
        "libstdc++.so",
        "libgcc_s.so",
        "libm.so",
    ]
    .iter()
    .any(|r| library.starts_with(r))
}

/// A Python interpreter: libpython, or the `python3.11` executable.
fn is_interpreter(library: &str) -> bool {
    library.starts_with("libpython")
        || library
            .strip_prefix("python")
            .is_some_and(|v| v.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fit::fit;

    #[test]
    fn the_running_line_is_the_least_squares_fit_of_its_points() {
        let points = [
            (0.5, 10.0),
            (1.0, 12.0),
            (1.5, 11.0),
            (2.0, 20.0),
            (2.5, 21.0),
        ];
        let mut running = Running::default();
        for (x, y) in points {
            running.add(x, y);
        }
        let (a, b) = (running.fit(), fit(&points));
        assert_eq!((a.points, a.determined), (b.points, b.determined));
        for (x, y) in [
            (a.slope, b.slope),
            (a.intercept, b.intercept),
            (a.r_squared, b.r_squared),
        ] {
            assert!((x - y).abs() < 1e-9, "{a:?} against {b:?}");
        }
        assert_eq!(running.rise(), 11.0);
        // A flat line explains everything; one point determines nothing.
        let mut flat = Running::default();
        flat.add(1.0, 5.0);
        assert!(!flat.fit().determined);
        flat.add(2.0, 5.0);
        assert_eq!((flat.fit().slope, flat.fit().r_squared), (0.0, 1.0));
    }
}

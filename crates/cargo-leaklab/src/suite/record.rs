//! What the runner writes for one test, and the suite's reading of a
//! directory of them. One JSON file per test process, so parallel runners
//! never share a file.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::parse::attribution::Side;

/// Blocks and bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Amount {
    pub blocks: i64,
    pub bytes: i64,
}

impl Amount {
    pub fn add(&mut self, blocks: i64, bytes: i64) {
        self.blocks += blocks;
        self.bytes += bytes;
    }

    pub fn is_zero(&self) -> bool {
        self.blocks == 0 && self.bytes == 0
    }
}

impl std::fmt::Display for Amount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_zero() {
            write!(f, "-")
        } else {
            write!(f, "{} blk / {} B", self.blocks, self.bytes)
        }
    }
}

/// One side's leak kinds, as memcheck (or LeakSanitizer) classes them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kinds {
    /// Definitely plus indirectly lost: memcheck's default failure.
    pub lost: Amount,
    pub possible: Amount,
    pub reachable: Amount,
}

/// How a test's process ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ending {
    Passed,
    /// Exit code other than 0 (the test failed or panicked).
    Failed(i32),
    /// Killed by this signal.
    Signal(i32),
    /// The detector itself could not run or read its report.
    NotMeasured(String),
    /// Still running after the per-test time limit (seconds): stopped.
    TimedOut(u64),
}

/// A memory error that is not a leak: memcheck's (an invalid read or
/// write, an invalid or double free, a jump on an uninitialised value...)
/// or glibc's own abort ("free(): double free detected in tcache 2").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryError {
    /// memcheck's kind (`InvalidRead`, `InvalidFree`, `UninitCondition`,
    /// ...), or for glibc's abort `double free`, `invalid free` or `heap
    /// corruption`.
    pub kind: String,
    /// memcheck's one line, or glibc's message.
    pub what: String,
    /// How many times it happened.
    pub count: u64,
    /// The first frame of the access (outside the allocator and std).
    pub at: Option<String>,
    /// The first frame of where the block was allocated, when memcheck
    /// gives it.
    pub allocated_at: Option<String>,
    /// The first frame of where the block was freed, when memcheck gives
    /// it.
    pub freed_at: Option<String>,
}

impl MemoryError {
    /// "at F; freed at G; allocated at H", as much as is known.
    pub fn frames(&self) -> String {
        let parts: Vec<String> = [
            ("at", &self.at),
            ("freed at", &self.freed_at),
            ("allocated at", &self.allocated_at),
        ]
        .into_iter()
        .filter_map(|(label, f)| f.as_ref().map(|f| format!("{label} {f}")))
        .collect();
        parts.join("; ")
    }
}

/// One test, one process.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TestRecord {
    /// The test binary's file name (target/debug/deps/NAME-HASH).
    pub binary: String,
    /// The test's full name, as libtest lists it.
    pub test: String,
    pub ending: Ending,
    /// Which detector measured it: `valgrind`, `lsan`, or `counters`
    /// (with the sides from memcheck when the counters found a leak and
    /// valgrind is installed).
    pub detector: String,
    pub c: Kinds,
    pub rust: Kinds,
    /// counters only: the process's malloc heap at exit, both sides, as
    /// the shim's scan classed it.
    pub heap_at_exit: Option<Kinds>,
    /// The biggest loss record's first frame outside the allocator.
    pub top_frame: Option<String>,
    /// memcheck errors other than leaks (invalid reads, ...), one line each.
    pub errors: Vec<String>,
    /// The same errors with their frames, or glibc's abort on a bad free:
    /// any of them fails the run (unless `--fail-on no-errors`).
    #[serde(default)]
    pub memory_errors: Vec<MemoryError>,
    /// Suppressions memcheck generated for the records that count as lost.
    pub suppressions: Vec<String>,
    /// Where the sides and the top frame came from: `sites` (the preload
    /// shim's own allocation sites, every allocation's stack walked: in a
    /// test's native re-run, in `cargo leaklab run`'s one run; memcheck
    /// was not run),
    /// `memcheck`, or `lsan`; None when no stack was read (nothing lost,
    /// or nothing could tell).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stacks_from: Option<String>,
    /// Why the sides are unknown, when they are; or what the counters'
    /// re-run for the stacks disagreed on, when memcheck decided instead.
    pub note: Option<String>,
    /// Each allocation site with lost blocks, the most bytes first: its
    /// side, what it lost and its frame shown (empty when `stacks_from` is
    /// not `sites` or `memcheck`, or nothing was lost).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lost_sites: Vec<SiteLoss>,
    /// counters only: how to run this test again (the binary and the
    /// arguments nextest gave it), for memcheck's second look at blocks
    /// the scan could only call possibly lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_again: Option<RunAgain>,
}

/// One allocation site's lost blocks: a site of the shim's, or one of
/// memcheck's loss records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteLoss {
    /// Which side allocated them.
    pub side: Side,
    /// Its lost blocks and bytes (for memcheck's records, definitely or
    /// indirectly lost).
    pub lost: Amount,
    /// Its frame shown, `function (file:line)`
    /// ([`crate::parse::attribution::shown_frame`]).
    pub frame: Option<String>,
}

/// [`TestRecord::stacks_from`] for stacks read from the shim's sites.
pub const STACKS_SITES: &str = "sites";

impl TestRecord {
    /// The lost blocks of the shim's `sites` (the most bytes first, as
    /// [`crate::sites::SiteFiles::blame`] gives them) into this record:
    /// the lost amounts per side, each site, and the top frame: the
    /// first site's.
    pub fn fill_from_sites(&mut self, sites: Vec<SiteLoss>) {
        for site in &sites {
            let kinds = match site.side {
                Side::C => &mut self.c,
                Side::Rust => &mut self.rust,
            };
            kinds.lost.add(site.lost.blocks, site.lost.bytes);
        }
        self.top_frame = sites.first().and_then(|s| s.frame.clone());
        self.stacks_from = Some(STACKS_SITES.into());
        self.lost_sites = sites;
    }
}

/// A test's process, to run again.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunAgain {
    pub binary: std::path::PathBuf,
    pub args: Vec<String>,
}

/// A test binary's listing, as the runner saw nextest ask for it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Listing {
    pub binary: String,
    pub tests: Vec<String>,
    pub ignored: Vec<String>,
    /// Not libtest's listing (a `harness = false` target): listed to
    /// nextest as one test, [`super::runner::WHOLE_BINARY`], run whole.
    #[serde(default)]
    pub whole: bool,
}

/// Every record and listing in `dir`, in name order.
pub fn read_dir(dir: &Path) -> Result<(Vec<TestRecord>, Vec<Listing>), String> {
    let mut records = Vec::new();
    let mut listings = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let Some(name) = name else { continue };
        let text = || std::fs::read_to_string(&path).map_err(|e| format!("{name}: {e}"));
        if name.starts_with("test-") && name.ends_with(".json") {
            records.push(serde_json::from_str(&text()?).map_err(|e| format!("{name}: {e}"))?);
        } else if name.starts_with("list-") && name.ends_with(".json") {
            listings.push(serde_json::from_str(&text()?).map_err(|e| format!("{name}: {e}"))?);
        }
    }
    Ok((records, listings))
}

/// Writes `value` as `dir/prefix-<pid>.json`, atomically (a reader never
/// sees half a file).
pub fn write(dir: &Path, prefix: &str, value: &impl Serialize) -> std::io::Result<()> {
    let json = serde_json::to_string(value).map_err(std::io::Error::other)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut tmp, json.as_bytes())?;
    let name = format!("{prefix}-{}.json", std::process::id());
    tmp.persist(dir.join(name)).map_err(|e| e.error)?;
    Ok(())
}

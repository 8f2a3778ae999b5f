//! One sample of a watched program: its processes' resident set sizes,
//! read from `/proc/<pid>/statm`, and their malloc heaps where the shim
//! publishes them.

use serde::Serialize;

/// Memory of the watched program's tree (or of one of its processes) at
/// one moment.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct Sample {
    /// Seconds since the program started.
    pub t: f64,
    /// Resident set size in bytes, summed over the processes, the shim's
    /// own memory ([`Sample::shim_bytes`]) left out.
    pub rss_bytes: u64,
    /// Live blocks and bytes of the malloc heap, summed over the processes
    /// where the shim is loaded.
    pub heap: Option<Heap>,
    /// Bytes the shim mapped for itself (its side table), taken out of
    /// `rss_bytes`.
    pub shim_bytes: u64,
    /// Processes sampled.
    pub processes: usize,
    /// The program (for a process's own sample: that process) had begun
    /// to exit: teardown, left out of the fit.
    pub exiting: bool,
}

/// The malloc heap's live blocks and bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct Heap {
    /// Live blocks.
    pub blocks: i64,
    /// Live bytes, as requested.
    pub bytes: i64,
}

/// The resident bytes of process `pid`, or None when it has none to read:
/// gone, or exited and not yet reaped (a zombie's statm reads all zeroes).
pub fn rss_bytes(pid: u32, page_size: u64) -> Option<u64> {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    parse_statm(&statm, page_size)
}

/// The resident field (the second) of a statm line, in bytes; None for
/// zero (a zombie) or a line that is not statm's.
pub fn parse_statm(statm: &str, page_size: u64) -> Option<u64> {
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    (pages > 0).then(|| pages * page_size)
}

impl std::ops::Add for Heap {
    type Output = Heap;
    fn add(self, other: Heap) -> Heap {
        Heap {
            blocks: self.blocks.saturating_add(other.blocks),
            bytes: self.bytes.saturating_add(other.bytes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statm_resident_pages_become_bytes() {
        assert_eq!(
            parse_statm("5000 1200 300 10 0 900 0\n", 4096),
            Some(1200 * 4096)
        );
    }

    #[test]
    fn zombie_and_garbage_read_as_nothing() {
        assert_eq!(parse_statm("0 0 0 0 0 0 0\n", 4096), None);
        assert_eq!(parse_statm("", 4096), None);
        assert_eq!(parse_statm("12 many", 4096), None);
    }

    #[test]
    fn this_process_has_resident_memory() {
        let rss = rss_bytes(std::process::id(), crate::fit::page_size());
        assert!(rss.is_some_and(|b| b > 0), "{rss:?}");
    }
}

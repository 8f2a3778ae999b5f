//! The allocation-site table the preload shim shares with `leaklab watch`
//! (`watch --sites`' data): one file per process, `<dir>/<pid>`, in the
//! directory named by [`DIR_VAR`]. The shim writes it (heap/interpose/
//! sites.rs), the watcher maps it read-only and samples it.
//!
//! A site is an allocation stack: up to [`FRAMES`] raw return addresses,
//! innermost first, the shim's own frames left out, interned by a 64-bit
//! hash into a fixed table of [`SITES`] entries. Two stacks with the same
//! hash share an entry (at 16 384 sites the odds are ~1e-11). Per site:
//! live blocks and bytes, allocations and frees, all atomics, so neither
//! side locks. What cannot be recorded is counted, never dropped:
//! [`OTHER`] takes allocations whose stack found no free entry,
//! [`UNWALKED`] those made where the shim does not walk a stack (a call
//! re-entering the allocator: a signal handler's, the unwinder's own), and
//! the header counts allocations that could not be attributed at all (the
//! shim's address map was full) and frees of blocks it never mapped.
//!
//! The file is never shrunk: an `exec` (the same pid) unlinks it and
//! creates a fresh one, so a reader that mapped the old one never reads
//! past its end.

use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64};

/// The environment variable naming the directory of site files.
pub const DIR_VAR: &str = "LEAKLAB_WATCH_SITES";

/// [`DIR_VAR`] as a C string, for the shim's `getenv`.
pub const DIR_VAR_C: &std::ffi::CStr = c"LEAKLAB_WATCH_SITES";

/// Written by the shim once the table is ready.
pub const MAGIC: u64 = 0x6c65_616b_7369_7431; // "leaksit1"

/// Entries of the table, the two reserved ones included: the cap on
/// distinct sites per process.
pub const SITES: usize = 16_384;

/// Slots of the shim's block -> site map: the cap on blocks attributed
/// at once (8 bytes each, touched as used).
pub const MAP_SLOTS: usize = 1 << 21;

/// Return addresses kept per site (innermost first, after the shim's own).
pub const FRAMES: usize = 16;

/// The reserved entry for allocations whose site found no free entry (the
/// table is full, or its probe ran too long).
pub const OTHER: usize = 0;

/// The reserved entry for allocations made where no stack is walked (a
/// call that re-entered the allocator on its thread).
pub const UNWALKED: usize = 1;

/// Key of [`OTHER`] (a stack's key is never this).
pub const OTHER_KEY: u64 = u64::MAX;
/// Key of [`UNWALKED`] (a stack's key is never this).
pub const UNWALKED_KEY: u64 = u64::MAX - 1;

/// The file's contents.
#[repr(C)]
pub struct Table {
    /// Counts about the table itself.
    pub header: Header,
    /// Entry indexes in the order the sites were first seen, the first
    /// [`Header::used`] of them written (0 in a slot still being written:
    /// skip it, it is reserved entry 0, never listed here).
    pub order: [AtomicU32; SITES],
    /// The sites, by index (the id in the shim's block map).
    pub sites: [Site; SITES],
}

/// What the table says about itself.
#[repr(C)]
pub struct Header {
    /// [`MAGIC`], written last at creation.
    pub magic: AtomicU64,
    /// The process whose table this is.
    pub pid: AtomicU64,
    /// [`SITES`] and [`FRAMES`] as built, for a reader to check.
    pub sites: AtomicU64,
    /// [`FRAMES`] as built.
    pub frames: AtomicU64,
    /// Entries of `order` claimed so far (may exceed the written ones by
    /// the few being written right now).
    pub used: AtomicU64,
    /// Allocations counted into [`OTHER`] because their stack found no
    /// free entry.
    pub full: AtomicU64,
    /// Allocations not attributed to any site: the address map was full
    /// (their frees then count in `unknown_frees`).
    pub unmapped_blocks: AtomicU64,
    /// Their bytes.
    pub unmapped_bytes: AtomicU64,
    /// Frees of blocks the address map did not hold: allocated before the
    /// shim started counting sites (during the loader's start-up), or not
    /// mapped (above).
    pub unknown_frees: AtomicU64,
    /// Slots of the shim's address map (block -> site), the cap on blocks
    /// attributed at once.
    pub map_slots: AtomicU64,
    /// Bytes the shim mapped for sites in this process (table and map).
    pub mapped_bytes: AtomicU64,
    /// 0: every allocation's stack is walked and the counts are exact;
    /// else the mean of the byte intervals between sampled allocations
    /// (Poisson sampling by bytes, as tcmalloc's heap profiler): a sampled
    /// block of `s` bytes counts as `s / p` bytes and `1 / p` blocks, `p =
    /// 1 - exp(-s / mean)` ([`weight`]), an unbiased estimate per site.
    pub sample_bytes: AtomicU64,
    /// Entries stacks may take (the table's [`SITES`] less the reserved,
    /// or fewer if [`CAP_VAR`] asked for fewer).
    pub cap: AtomicU64,
    /// 1 once the process's scan at exit wrote each site's lost blocks
    /// (the process ended through `exit`): until then, "lost" is unknown,
    /// not 0.
    pub scanned: AtomicU64,
    /// Threads the process had when its scan at exit ran (set with
    /// `scanned`): more than 1, and another thread's stack, which the scan
    /// does not read, may hold a pointer to a block it calls lost.
    pub threads_at_exit: AtomicU64,
    /// Room for more counts without a new layout.
    pub _spare: [AtomicU64; 1],
}

/// One allocation site.
#[repr(C)]
pub struct Site {
    /// The stack's hash (0: the entry is free).
    pub key: AtomicU64,
    /// Frames written, with [`READY`] set once they are all there.
    pub depth: AtomicU64,
    /// Return addresses, innermost first.
    pub frames: [AtomicU64; FRAMES],
    /// Blocks of this site not yet freed.
    pub live_blocks: AtomicI64,
    /// Their bytes, as requested.
    pub live_bytes: AtomicI64,
    /// Blocks allocated here, ever.
    pub allocations: AtomicU64,
    /// Of those, freed.
    pub frees: AtomicU64,
    /// At exit (once [`Header::scanned`]): the live blocks no pointer
    /// reached in the shim's scan, and their bytes.
    pub lost_blocks: AtomicI64,
    pub lost_bytes: AtomicI64,
    /// At exit: the live blocks reached only through pointers into their
    /// middle (memcheck's "possibly lost"), and their bytes.
    pub possible_blocks: AtomicI64,
    pub possible_bytes: AtomicI64,
}

/// Set in [`Site::depth`] once the frames are written.
pub const READY: u64 = 1 << 63;

const _: () = assert!(size_of::<Header>() == 128);
const _: () = assert!(SITES <= u16::MAX as usize + 1, "a site id fits 16 bits");

/// The environment variable with the sampling mean in bytes (decimal;
/// absent or 0: every allocation).
pub const SAMPLE_VAR: &str = "LEAKLAB_WATCH_SITES_SAMPLE";

/// [`SAMPLE_VAR`] as a C string.
pub const SAMPLE_VAR_C: &std::ffi::CStr = c"LEAKLAB_WATCH_SITES_SAMPLE";

/// The environment variable capping the entries stacks may take (at
/// least 1, at most [`SITES`] - 2, the default): a smaller table, to see
/// it fill.
pub const CAP_VAR: &str = "LEAKLAB_WATCH_SITES_CAP";

/// [`CAP_VAR`] as a C string.
pub const CAP_VAR_C: &std::ffi::CStr = c"LEAKLAB_WATCH_SITES_CAP";

/// What a sampled block of `size` bytes stands for, under sampling with
/// mean `mean` (0: exact, itself): (blocks, bytes), rounded. The shim adds
/// it at the allocation and takes the same off at the free.
pub fn weight(size: usize, mean: u64) -> (i64, i64) {
    if mean == 0 {
        return (1, size as i64);
    }
    let p = -(-(size.max(1) as f64) / mean as f64).exp_m1();
    (
        (1.0 / p).round().max(1.0) as i64,
        (size as f64 / p).round() as i64,
    )
}

/// The file's length.
pub const LEN: usize = size_of::<Table>();

/// `<dir>/<pid>` into `out` (NUL-terminated), without allocating: the
/// shim builds it before `main` and in a fork's child. None if it does not
/// fit.
pub fn file_name(dir: &[u8], pid: u64, out: &mut [u8]) -> Option<usize> {
    let mut digits = [0u8; 20];
    let mut n = 0;
    let mut p = pid;
    loop {
        digits[n] = b'0' + (p % 10) as u8;
        n += 1;
        p /= 10;
        if p == 0 {
            break;
        }
    }
    let len = dir.len() + 1 + n;
    if len + 1 > out.len() {
        return None;
    }
    out[..dir.len()].copy_from_slice(dir);
    out[dir.len()] = b'/';
    for i in 0..n {
        out[dir.len() + 1 + i] = digits[n - 1 - i];
    }
    out[len] = 0;
    Some(len)
}

/// Appended to a site file's name for the copy of the process's
/// `/proc/self/maps` the shim writes at exit (`<dir>/<pid>.maps`): the
/// objects its sites' addresses lie in, for a reader that could not read
/// them while the process ran (a short test process).
pub const MAPS_SUFFIX: &str = ".maps";

/// `<dir>/<pid>` followed by `suffix` into `out` (NUL-terminated),
/// without allocating. None if it does not fit.
pub fn file_name_with(dir: &[u8], pid: u64, suffix: &[u8], out: &mut [u8]) -> Option<usize> {
    let len = file_name(dir, pid, out)?;
    if len + suffix.len() + 1 > out.len() {
        return None;
    }
    out[len..len + suffix.len()].copy_from_slice(suffix);
    out[len + suffix.len()] = 0;
    Some(len + suffix.len())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_sampled_block_stands_for_what_its_odds_say() {
        assert_eq!(super::weight(100, 0), (1, 100));
        // 100 B at a 16 KiB mean: p ~ 0.0061, so ~164 blocks, ~16 KiB.
        let (blocks, bytes) = super::weight(100, 16384);
        assert!((160..170).contains(&blocks), "{blocks}");
        assert!((16_300..16_500).contains(&bytes), "{bytes}");
        // A block far above the mean is always sampled: itself.
        assert_eq!(super::weight(1 << 20, 16384), (1, 1 << 20));
    }

    #[test]
    fn file_names_are_dir_slash_pid() {
        let mut out = [0u8; 32];
        let n = super::file_name(b"/tmp/x", 4012, &mut out).unwrap();
        assert_eq!(&out[..=n], b"/tmp/x/4012\0");
        assert_eq!(super::file_name(b"/d", 0, &mut out), Some(4));
        assert_eq!(super::file_name(&[b'a'; 40], 1, &mut out), None);
        let n = super::file_name_with(b"/tmp/x", 12, b".maps", &mut out).unwrap();
        assert_eq!(&out[..=n], b"/tmp/x/12.maps\0");
        assert_eq!(
            super::file_name_with(&[b'a'; 26], 1, b".maps", &mut out),
            None
        );
    }
}

//! The preload shim's allocation sites, read and named: one table per
//! process (`<dir>/<pid>`, layout in `leaklab`'s watch_sites.rs) that the
//! shim fills as the process allocates, and at its exit, from its scan,
//! with each site's lost and possibly lost blocks. Read here for all of
//! its users: `leaklab watch` (sampled over time, [`crate::watch`]),
//! `cargo leaklab test` (a leaking test's re-run, at its exit only,
//! [`crate::suite`]) and `cargo leaklab run` (its one run, at exit,
//! [`crate::run`]).
//!
//! A site's frames are raw return addresses of its process; they become
//! object + offset through that process's `/proc/PID/maps` (read while it
//! runs, or the copy the shim writes at exit, `<dir>/<pid>.maps`), and
//! functions and file:line through the shared symbolizer
//! (`leaklab::check`'s, one `addr2line` server per object).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicU64;

use serde::Serialize;

use crate::parse::attribution::Frame;
use crate::suite::record::{Amount, SiteLoss};
use leaklab::check::LoadedObject;
use leaklab::watch_sites::{self as layout, FRAMES, OTHER, READY, SITES, Table, UNWALKED};

/// The directory of the site files, removed with this.
pub struct SiteFiles {
    dir: tempfile::TempDir,
}

impl SiteFiles {
    /// A fresh directory for the shim's site files.
    pub fn create() -> std::io::Result<SiteFiles> {
        Ok(SiteFiles {
            dir: tempfile::Builder::new()
                .prefix("leaklab-sites-")
                .tempdir()?,
        })
    }

    /// Tells the shim to count sites, into this directory, sampling one
    /// allocation per `sample_bytes` on average (0: every one).
    pub fn configure(&self, cmd: &mut Command, sample_bytes: u64) {
        cmd.env(layout::DIR_VAR, self.dir.path());
        cmd.env(layout::SAMPLE_VAR, sample_bytes.to_string());
    }

    /// The objects process `pid` had loaded at its exit, from the copy of
    /// its maps the shim wrote then (`<dir>/<pid>.maps`), if it wrote one.
    pub fn objects_at_exit(&self, pid: u32) -> Option<Vec<LoadedObject>> {
        let name = format!("{pid}{}", layout::MAPS_SUFFIX);
        let maps = std::fs::read_to_string(self.dir.path().join(name)).ok()?;
        Some(parse_maps(&maps, elf_is_executable))
    }

    /// Process `pid`'s table as it is now, if the shim keeps one there,
    /// each site with the count of `requests` (watch's `--per`) as it was
    /// read.
    pub(crate) fn read(&self, pid: u32, requests: Option<&AtomicU64>) -> Option<Reading> {
        let path = self.dir.path().join(pid.to_string());
        let file = std::fs::File::open(path).ok()?;
        let meta = file.metadata().ok()?;
        let len = meta.len();
        if len < layout::LEN as u64 {
            return None;
        }
        let map = Mapped::of(&file)?;
        let table = map.table();
        let h = &table.header;
        use std::sync::atomic::Ordering::{Acquire, Relaxed};
        if h.magic.load(Acquire) != layout::MAGIC
            || h.sites.load(Relaxed) != SITES as u64
            || h.frames.load(Relaxed) != FRAMES as u64
        {
            return None;
        }
        let used = (h.used.load(Acquire) as usize).min(SITES);
        let indexes = [OTHER as u32, UNWALKED as u32]
            .into_iter()
            .chain(table.order[..used].iter().map(|o| o.load(Acquire)));
        let mut sites = Vec::with_capacity(used + 2);
        let mut seen_zero = false;
        for index in indexes {
            // A slot of `order` not yet written reads 0, which is OTHER's.
            if index == 0 {
                if seen_zero {
                    continue;
                }
                seen_zero = true;
            }
            let Some(s) = table.sites.get(index as usize) else {
                continue;
            };
            let depth = s.depth.load(Acquire);
            let frames = (depth & READY != 0).then(|| {
                let n = ((depth & !READY) as usize).min(FRAMES);
                s.frames[..n].iter().map(|f| f.load(Relaxed)).collect()
            });
            sites.push(SiteNow {
                index,
                frames,
                counts: Counts {
                    live_blocks: s.live_blocks.load(Relaxed),
                    live_bytes: s.live_bytes.load(Relaxed),
                    allocations: s.allocations.load(Relaxed),
                    frees: s.frees.load(Relaxed),
                },
                lost: [
                    s.lost_blocks.load(Relaxed),
                    s.lost_bytes.load(Relaxed),
                    s.possible_blocks.load(Relaxed),
                    s.possible_bytes.load(Relaxed),
                ],
                // The program runs on while its table is read: this
                // site's bytes go with the requests counted now.
                requests: requests.map(|r| r.load(Relaxed) as f64),
            });
        }
        Some(Reading {
            scanned: h.scanned.load(Acquire) == 1,
            threads_at_exit: h.threads_at_exit.load(Relaxed),
            file: std::os::unix::fs::MetadataExt::ino(&meta),
            used: used as u64,
            header: HeaderCounts {
                cap: h.cap.load(Relaxed),
                full: h.full.load(Relaxed),
                unmapped_blocks: h.unmapped_blocks.load(Relaxed),
                unmapped_bytes: h.unmapped_bytes.load(Relaxed),
                unknown_frees: h.unknown_frees.load(Relaxed),
            },
            sites,
        })
    }
}

/// A read-only mapping of one site file, unmapped on drop.
struct Mapped(*mut libc::c_void);

impl Mapped {
    fn of(file: &std::fs::File) -> Option<Mapped> {
        use std::os::fd::AsRawFd;
        // SAFETY: a fresh shared read-only mapping of an open file at
        // least LEN bytes long (checked by the caller; the shim never
        // shrinks one).
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                layout::LEN,
                libc::PROT_READ,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if map == libc::MAP_FAILED {
            return None;
        }
        // Sites are read where they are, not in sequence: no read-ahead
        // (which would also fill the page cache with the file's holes).
        // SAFETY: advice on the mapping just made.
        unsafe { libc::madvise(map, layout::LEN, libc::MADV_RANDOM) };
        Some(Mapped(map))
    }

    fn table(&self) -> &Table {
        // SAFETY: LEN bytes mapped, page-aligned; every field is an
        // atomic, so reading while the shim writes is sound.
        unsafe { &*self.0.cast::<Table>() }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `of`; no reference outlives self.
        unsafe { libc::munmap(self.0, layout::LEN) };
    }
}

/// One site's counts as the shim keeps them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Counts {
    pub(crate) live_blocks: i64,
    pub(crate) live_bytes: i64,
    pub(crate) allocations: u64,
    pub(crate) frees: u64,
}

/// The table's own counts: what could not be attributed.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct HeaderCounts {
    /// Entries stacks could take in this process (the cap on its sites).
    pub cap: u64,
    /// Allocations whose stack found no free entry (counted in "other").
    pub full: u64,
    /// Allocations attributed to no site: the block map was full.
    pub unmapped_blocks: u64,
    pub unmapped_bytes: u64,
    /// Frees of blocks the map did not hold (allocated before the shim
    /// began to count sites, or unmapped).
    pub unknown_frees: u64,
}

/// One site as read.
pub(crate) struct SiteNow {
    /// Its entry in the table ([`OTHER`], [`UNWALKED`], or a stack's).
    pub(crate) index: u32,
    /// Its return addresses, innermost first (None: still being written).
    pub(crate) frames: Option<Vec<u64>>,
    pub(crate) counts: Counts,
    /// Lost blocks and bytes at exit, then possibly lost ones
    /// (meaningful once scanned).
    pub(crate) lost: [i64; 4],
    /// Requests counted (watch's `--per`) when its counts were read.
    pub(crate) requests: Option<f64>,
}

/// One process's table as read.
pub(crate) struct Reading {
    /// The process's scan at exit wrote the lost counts.
    pub(crate) scanned: bool,
    /// Threads the process had at its scan (0: unknown, or no scan).
    pub(crate) threads_at_exit: u64,
    /// The file's inode: a new one after an exec (the same pid).
    pub(crate) file: u64,
    pub(crate) used: u64,
    pub(crate) header: HeaderCounts,
    pub(crate) sites: Vec<SiteNow>,
}

/// The loaded objects of process `pid`, from its `/proc/PID/maps`: each
/// file's mappings, and the bias to take off a run-time address for the
/// address its file speaks of.
pub fn objects_of(pid: u32) -> Option<Vec<LoadedObject>> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).ok()?;
    Some(parse_maps(&maps, elf_is_executable))
}

/// `is_exec(path)`: the file is an ELF ET_EXEC (loaded where its
/// addresses say: no bias) rather than ET_DYN (a PIE or a library).
pub(crate) fn parse_maps(maps: &str, is_exec: impl Fn(&Path) -> bool) -> Vec<LoadedObject> {
    // Per file: its mappings, and where its offset-0 mapping starts.
    type Mappings = (Vec<(usize, usize)>, Option<usize>);
    let mut by_path: BTreeMap<PathBuf, Mappings> = BTreeMap::new();
    for line in maps.lines() {
        let mut fields = line.split_whitespace();
        let (Some(range), Some(_perms), Some(offset)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let path: String = fields.skip(2).collect::<Vec<_>>().join(" ");
        if !path.starts_with('/') || path.ends_with(" (deleted)") {
            continue;
        }
        let Some((start, end)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end), Ok(offset)) = (
            usize::from_str_radix(start, 16),
            usize::from_str_radix(end, 16),
            usize::from_str_radix(offset, 16),
        ) else {
            continue;
        };
        let entry = by_path.entry(PathBuf::from(path)).or_default();
        entry.0.push((start, end));
        if offset == 0 && entry.1.is_none() {
            entry.1 = Some(start);
        }
    }
    by_path
        .into_iter()
        .filter_map(|(path, (ranges, first))| {
            let first = first?;
            let base = if is_exec(&path) { 0 } else { first };
            Some(LoadedObject { path, base, ranges })
        })
        .collect()
}

/// Whether `path` is an ELF executable of type ET_EXEC (not position
/// independent).
fn elf_is_executable(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 18];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| &head[..4] == b"\x7fELF" && u16::from_le_bytes([head[16], head[17]]) == 2)
}

/// The object holding `address`.
pub(crate) fn object_at(objects: &[LoadedObject], address: usize) -> Option<&LoadedObject> {
    objects
        .iter()
        .find(|o| o.ranges.iter().any(|r| (r.0..r.1).contains(&address)))
}

/// The last component of `path`, or all of it.
pub(crate) fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// A site's stack as frames, innermost first, every frame named by the
/// shared symbolizer (inlined frames first, as `addr2line` gives them),
/// each with its object and that object's base, so that
/// [`crate::parse::attribution::side_of`] reads the side from it as from
/// memcheck's: the allocator's frames by name, else the call instruction
/// before the return address. `frames`: the raw return addresses.
pub fn stack(objects: &[LoadedObject], frames: &[u64]) -> Vec<Frame> {
    // Return addresses point after their calls: step back into them.
    let addresses: Vec<usize> = frames
        .iter()
        .map(|&ip| (ip as usize).saturating_sub(1))
        .collect();
    let symbols = leaklab::check::resolve_symbols_in(objects, &addresses);
    addresses
        .iter()
        .flat_map(|&a| {
            let object = object_at(objects, a);
            let named = symbols.get(&a).cloned().unwrap_or_default();
            let named = if named.is_empty() {
                vec![(format!("{a:#x}"), None, None)]
            } else {
                named
            };
            named.into_iter().map(move |(function, file, line)| Frame {
                function: Some(function),
                file,
                line,
                object: object.map(|o| o.path.display().to_string()),
                ip: Some(a as u64),
                base: object.map(|o| o.base as u64),
            })
        })
        .collect()
}

/// The sites of one process that its scan at exit found lost blocks of.
#[derive(Debug, Clone)]
pub struct LostSites {
    /// Each site with lost blocks, the most bytes lost first.
    pub sites: Vec<LostSite>,
    /// Lost blocks and bytes no site holds: made where no stack was
    /// walked ("unwalked"), counted under "other" (a full table), or not
    /// attributed at all (before the shim counted sites, or a full block
    /// map): their stacks are unknown.
    pub unattributed: (i64, i64),
}

/// One site with lost blocks at exit.
#[derive(Debug, Clone)]
pub struct LostSite {
    /// Its lost blocks and bytes (no pointer reached them).
    pub blocks: i64,
    pub bytes: i64,
    /// Its stack, named ([`stack`]).
    pub frames: Vec<Frame>,
}

impl SiteFiles {
    /// What process `pid`'s scan at exit found lost, per site, its stacks
    /// named from the maps the shim copied at exit. `lost`: the scan's
    /// total (blocks, bytes), to tell what no site holds. An error when
    /// the process left no table, made no scan (it did not end through
    /// `exit`) or left no maps.
    pub fn lost_at_exit(&self, pid: u32, lost: (i64, i64)) -> Result<LostSites, String> {
        let reading = self
            .read(pid, None)
            .ok_or("the process left no site table (the shim did not count its sites)")?;
        if !reading.scanned {
            return Err(
                "the process made no scan at exit: its sites' lost blocks are unknown".into(),
            );
        }
        if reading.threads_at_exit != 1 {
            return Err(format!(
                "{} threads at exit: another thread's stack, which the scan does not read, may hold \
                 the blocks it calls lost",
                reading.threads_at_exit
            ));
        }
        let objects = self
            .objects_at_exit(pid)
            .ok_or("the process left no copy of its maps at exit: its sites cannot be named")?;
        let mut sites = Vec::new();
        let mut attributed = (0, 0);
        for site in reading.sites {
            let [blocks, bytes, _, _] = site.lost;
            if blocks <= 0 || site.index as usize == OTHER || site.index as usize == UNWALKED {
                continue;
            }
            let Some(frames) = site.frames else { continue };
            attributed.0 += blocks;
            attributed.1 += bytes;
            sites.push(LostSite {
                blocks,
                bytes,
                frames: stack(&objects, &frames),
            });
        }
        sites.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(b.blocks.cmp(&a.blocks)));
        Ok(LostSites {
            sites,
            unattributed: (lost.0 - attributed.0, lost.1 - attributed.1),
        })
    }
}

impl SiteFiles {
    /// Process `pid`'s lost blocks per site ([`SiteFiles::lost_at_exit`]),
    /// each with its side (read from its stack by the rules memcheck's
    /// stacks are read by, [`crate::parse::attribution::side_of`]) and its
    /// frame shown, the most bytes first; `lost`: the scan's total. An
    /// error, saying why, where the sites cannot decide: no scan, more
    /// than one thread at exit, no maps, or a lost block with no stack.
    pub fn blame(&self, pid: u32, lost: Amount) -> Result<Vec<SiteLoss>, String> {
        let found = self.lost_at_exit(pid, (lost.blocks, lost.bytes))?;
        if found.unattributed != (0, 0) {
            return Err(format!(
                "{} lost blocks / {} B have no allocation stack in the sites",
                found.unattributed.0, found.unattributed.1
            ));
        }
        Ok(found
            .sites
            .into_iter()
            .map(|s| SiteLoss {
                side: crate::parse::attribution::side_of(&s.frames),
                lost: Amount {
                    blocks: s.blocks,
                    bytes: s.bytes,
                },
                frame: crate::parse::attribution::shown_frame(&s.frames),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_become_objects_with_their_bias() {
        let maps = "\
55d0c0a00000-55d0c0a01000 r--p 00000000 08:01 42 /usr/bin/prog
55d0c0a01000-55d0c0a02000 r-xp 00001000 08:01 42 /usr/bin/prog
00400000-00401000 r-xp 00000000 08:01 43 /opt/old exec
7f0000000000-7f0000001000 rw-p 00000000 00:00 0 [heap]
7f0000002000-7f0000003000 r-xp 00002000 08:01 44 /lib/gone.so (deleted)
";
        let objects = parse_maps(maps, |p| p.ends_with("old exec"));
        assert_eq!(objects.len(), 2, "{objects:?}");
        let prog = objects.iter().find(|o| o.path.ends_with("prog")).unwrap();
        assert_eq!(prog.base, 0x55d0_c0a0_0000);
        assert_eq!(prog.ranges.len(), 2);
        let old = objects
            .iter()
            .find(|o| o.path.ends_with("old exec"))
            .unwrap();
        assert_eq!(old.base, 0, "an ET_EXEC is loaded at its own addresses");
    }
}

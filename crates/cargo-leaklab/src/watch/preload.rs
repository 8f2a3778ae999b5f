//! The watcher's side of the preload shim (`libleaklab_preload.so`, the
//! `leaklab-preload` crate, embedded in this binary: [`crate::shim`]):
//! find the shim, share a page with it, start the program with the shim in
//! `LD_PRELOAD`, read the counts it publishes.
//!
//! The shim is the user crate's C allocator interposer
//! (crates/leaklab/src/heap/interpose.rs) compiled into a shared object.
//! Loaded into a program, it counts every call of the program's `malloc`
//! family: in a C or Python program that is its C heap; in a Rust program
//! it includes Rust's own allocations too (Rust's `System` allocator calls
//! `malloc`), as no Rust-side counter sets them apart there.

use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::sample::Heap;
use leaklab::watch_page::{self as layout, MAGIC, Shared};

/// The shim's file name.
pub const SHIM_FILE: &str = crate::shim::FILE;

/// Names a shim to load instead of the embedded one.
pub const SHIM_VAR: &str = "LEAKLAB_PRELOAD";

/// The shim to load: `$LEAKLAB_PRELOAD` if set, else the embedded shim,
/// written to the cache directory on first use ([`crate::shim::install`]).
/// The error is the reason in a few words.
pub fn locate() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os(SHIM_VAR) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            usable(path)
        } else {
            Err(format!("{SHIM_VAR}={} is not a file", path.display()))
        };
    }
    crate::shim::install()
}

/// An absolute path `LD_PRELOAD` can carry (it splits on spaces and colons).
fn usable(path: PathBuf) -> Result<PathBuf, String> {
    let path = std::fs::canonicalize(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    crate::shim::preloadable(&path)?;
    Ok(path)
}

/// The page shared with the shim, mapped for as long as this lives.
pub struct Channel {
    shim: PathBuf,
    file: tempfile::NamedTempFile,
    map: *mut Shared,
    len: usize,
}

impl Channel {
    /// Creates and maps the shared file, asking the shim to publish every
    /// `publish`.
    pub fn open(shim: PathBuf, publish: Duration) -> std::io::Result<Channel> {
        let file = tempfile::Builder::new()
            .prefix("leaklab-watch-")
            .tempfile()?;
        let len = page_len();
        file.as_file().set_len(len as u64)?;
        let map = map_shared(file.as_file(), len)?;
        let channel = Channel {
            shim,
            file,
            map,
            len,
        };
        let shared = channel.shared();
        let ns = u64::try_from(publish.as_nanos()).unwrap_or(u64::MAX);
        shared
            .publish_ns
            .store(ns, std::sync::atomic::Ordering::Relaxed);
        shared
            .magic
            .store(MAGIC, std::sync::atomic::Ordering::Release);
        Ok(channel)
    }

    /// The shim's path.
    pub fn shim(&self) -> &Path {
        &self.shim
    }

    fn shared(&self) -> &Shared {
        // SAFETY: `map` is a live mapping of at least size_of::<Shared>()
        // bytes (a whole page), page-aligned, until drop; every field is
        // an atomic, so shared access from two processes is sound.
        unsafe { &*self.map }
    }

    /// Sets `LD_PRELOAD` (the shim first, then any already set) and the
    /// shared file's path in `cmd`'s environment.
    pub fn configure(&self, cmd: &mut Command) {
        let mut preload = OsString::from(self.shim.as_os_str());
        if let Some(existing) = std::env::var_os("LD_PRELOAD").filter(|v| !v.is_empty()) {
            preload.push(":");
            preload.push(existing);
        }
        cmd.env("LD_PRELOAD", preload);
        cmd.env(layout::PATH_VAR, self.file.path());
    }

    /// Whether the shim was loaded into process `pid` (it claimed a record).
    pub fn loaded_in(&self, pid: u32) -> bool {
        self.shared().find(u64::from(pid)).is_some()
    }

    /// The heap of process `pid` as last published, if the shim runs there.
    pub fn read(&self, pid: u32) -> Option<Heap> {
        self.published(pid).and_then(|p| p.heap)
    }

    /// What process `pid`'s shim published, if it runs there.
    pub fn published(&self, pid: u32) -> Option<Published> {
        let record = self.shared().find(u64::from(pid))?;
        // Read before the counts: a sample whose counts may be teardown's
        // is marked so.
        let exiting = record.is_exiting();
        let counts = record.read();
        Some(Published {
            // A process whose heap no copy of the interposer sees (its
            // executable defines malloc by other means) publishes no allocation:
            // no heap, not an empty one.
            heap: counts.filter(|c| c.allocations > 0).map(|c| Heap {
                blocks: c.live_blocks,
                bytes: c.live_bytes,
            }),
            refused: counts.map_or(0, |c| c.refused),
            shim_bytes: counts.map_or(0, |c| c.shim_bytes),
            exiting,
        })
    }
}

/// What one process's shim published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    /// Its malloc heap (None before the first publication).
    pub heap: Option<Heap>,
    /// Allocations glibc refused it: out of memory, or a cap.
    pub refused: u64,
    /// The shim's own mapped bytes in it.
    pub shim_bytes: u64,
    /// It began to exit.
    pub exiting: bool,
}

/// What the shim found at a process's exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AtExit {
    /// Every block still allocated.
    pub live: Heap,
    /// Of those, the ones no pointer reaches (definitely and indirectly
    /// lost, by the shim's conservative scan).
    pub lost: Heap,
    /// Reached only through pointers into their middle.
    pub possible: Heap,
    /// Allocations seen, ever: 0 in a program whose heap no copy of the
    /// interposer sees (its executable defines `malloc` by other means).
    pub allocations: u64,
}

impl Channel {
    /// What process `pid` left at its exit, if the shim ran there and the
    /// process ended through `exit`.
    pub fn read_at_exit(&self, pid: u32) -> Option<AtExit> {
        use std::sync::atomic::Ordering::{Acquire, Relaxed};
        let shared = self.shared().find(u64::from(pid))?;
        if shared.exited.load(Acquire) != 1 {
            return None;
        }
        // The record's counts as they are, a heap of no allocation too
        // (`read` calls that one unseen): `allocations` says which.
        let counts = shared.read()?;
        Some(AtExit {
            live: Heap {
                blocks: counts.live_blocks,
                bytes: counts.live_bytes,
            },
            lost: Heap {
                blocks: shared.lost_blocks.load(Relaxed),
                bytes: shared.lost_bytes.load(Relaxed),
            },
            possible: Heap {
                blocks: shared.possible_blocks.load(Relaxed),
                bytes: shared.possible_bytes.load(Relaxed),
            },
            allocations: counts.allocations,
        })
    }
}

impl Drop for Channel {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `open`, of exactly `len` bytes, and
        // no reference into it outlives `self`.
        unsafe { libc::munmap(self.map.cast(), self.len) };
    }
}

fn page_len() -> usize {
    let page = usize::try_from(crate::fit::page_size()).unwrap_or(4096);
    size_of::<Shared>().next_multiple_of(page)
}

fn map_shared(file: &File, len: usize) -> std::io::Result<*mut Shared> {
    use std::os::fd::AsRawFd;
    layout::map_shared(file.as_raw_fd(), len).ok_or_else(std::io::Error::last_os_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_variable_has_one_name_for_both_sides() {
        assert_eq!(layout::PATH_VAR_C.to_str(), Ok(layout::PATH_VAR));
    }

    #[test]
    fn a_fresh_channel_reads_nothing_until_published() {
        let channel = Channel::open(PathBuf::from("/nonexistent.so"), Duration::from_millis(10))
            .expect("a temp file maps");
        let me = std::process::id();
        assert!(!channel.loaded_in(me));
        assert_eq!(channel.read(me), None);
        let shared = channel.shared();
        let record = shared.claim(u64::from(me)).expect("a free record");
        assert!(channel.loaded_in(me));
        assert_eq!(channel.read(me), None, "claimed but not yet published");
        record.publish(layout::Counts {
            live_blocks: 3,
            live_bytes: 300,
            allocations: 7,
            refused: 2,
            shim_bytes: 4096,
        });
        assert_eq!(
            channel.read(me),
            Some(Heap {
                blocks: 3,
                bytes: 300
            })
        );
        assert_eq!(
            channel.read(me + 1),
            None,
            "another pid's counts are not read"
        );
        let published = channel.published(me).unwrap();
        assert_eq!((published.refused, published.shim_bytes), (2, 4096));
        assert!(!published.exiting);
        // A second process gets a record of its own.
        let other = shared.claim(u64::from(me) + 1).unwrap();
        assert!(!std::ptr::eq(other, record));
        assert!(std::ptr::eq(shared.claim(u64::from(me)).unwrap(), record));
        other.exiting.store(1, std::sync::atomic::Ordering::Release);
        assert!(channel.published(me + 1).unwrap().exiting);
    }

    #[test]
    fn a_torn_publication_reads_as_nothing_instead_of_hanging() {
        let channel = Channel::open(PathBuf::from("/x.so"), Duration::from_millis(10)).unwrap();
        let me = std::process::id();
        let record = channel.shared().claim(u64::from(me)).unwrap();
        record.seq.store(1, std::sync::atomic::Ordering::Release);
        assert_eq!(channel.read(me), None);
    }

    #[test]
    fn configure_puts_the_shim_first_in_ld_preload() {
        let channel =
            Channel::open(PathBuf::from("/lib/shim.so"), Duration::from_millis(10)).unwrap();
        let mut cmd = Command::new("true");
        channel.configure(&mut cmd);
        let env: Vec<_> = cmd.get_envs().collect();
        let preload = env
            .iter()
            .find(|(k, _)| *k == "LD_PRELOAD")
            .and_then(|(_, v)| *v)
            .unwrap();
        assert!(
            preload.to_string_lossy().starts_with("/lib/shim.so"),
            "{preload:?}"
        );
        assert!(env.iter().any(|(k, _)| *k == layout::PATH_VAR));
    }
}

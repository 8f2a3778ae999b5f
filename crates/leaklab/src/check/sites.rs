//! Where kept blocks came from: the recorded allocation stacks, symbolized,
//! trimmed to the frames a reader needs (the allocator and the recorder
//! cut off below, the leak check and the test harness above), grouped by
//! stack, and split into lost and reachable.

// Under Miri nothing is recorded (heap::stacks is not built), so the
// symbolizing half has no caller there.
#![cfg_attr(miri, allow(dead_code))]

#[cfg(not(miri))]
use std::collections::HashMap;
use std::fmt;

use crate::heap::Side;
#[cfg(not(miri))]
use crate::heap::stacks::Recorded;

/// One frame of an allocation stack.
///
/// ```
/// let frame = leaklab::check::Frame {
///     function: "mycrate::parse".into(),
///     file: Some("src/lib.rs".into()),
///     line: Some(12),
///     yours: true,
/// };
/// assert_eq!(frame.to_string(), "mycrate::parse (src/lib.rs:12)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Frame {
    /// The function, demangled, or `"???"` (a C library without symbols).
    pub function: String,
    /// Its source file, where debug info names one.
    pub file: Option<String>,
    /// The line in that file.
    pub line: Option<u32>,
    /// Your code: a source file outside the Rust toolchain and outside the
    /// crates cargo downloaded.
    pub yours: bool,
}

impl fmt::Display for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, "{} ({file}:{line})", self.function),
            (Some(file), None) => write!(f, "{} ({file})", self.function),
            _ => f.write_str(&self.function),
        }
    }
}

/// The blocks kept from one allocation stack.
///
/// ```
/// # #[global_allocator] static ALLOC: leaklab::Counting = leaklab::Counting::system();
/// use leaklab::check::{measure, Side};
/// let m = measure(3, || std::mem::forget(vec![0u8; 16])).unwrap();
/// let site = &m.sites[0];
/// assert_eq!((site.side, site.blocks, site.bytes), (Side::Rust, m.recorded_calls, 16 * m.recorded_calls));
/// assert!(!site.frames.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Site {
    /// The allocator the blocks came from.
    pub side: Side,
    /// Blocks kept from this stack over the recorded calls.
    pub blocks: u64,
    /// Their requested bytes.
    pub bytes: u64,
    /// Of those, the ones no pointer in memory leads to.
    pub lost_blocks: u64,
    /// Their requested bytes.
    pub lost_bytes: u64,
    /// Your frames first (innermost first), then the rest down to the
    /// allocation, innermost first.
    pub frames: Vec<Frame>,
}

impl Site {
    /// "lost", "reachable", or "3 lost, 1 reachable".
    ///
    /// ```
    /// # #[global_allocator] static ALLOC: leaklab::Counting = leaklab::Counting::system();
    /// let m = leaklab::check::measure(2, || std::mem::forget(Box::new(1u32))).unwrap();
    /// assert_eq!(m.sites[0].state(), "lost");
    /// ```
    pub fn state(&self) -> String {
        let reachable = self.blocks - self.lost_blocks;
        match (self.lost_blocks, reachable) {
            (_, 0) => "lost".into(),
            (0, _) => "reachable".into(),
            (lost, reachable) => format!("{lost} lost, {reachable} reachable"),
        }
    }
}

/// Frames of the allocators and of the recorder: cut off below the
/// allocation.
fn is_machinery(function: &str, file: Option<&str>) -> bool {
    const NAMES: &[&str] = &[
        "leaklab::heap::",
        "<leaklab::heap::",
        "std::alloc::",
        "<std::alloc::",
        "alloc::alloc::",
        "<alloc::alloc::",
    ];
    // The compiler's allocator shims, under a path prefix or none.
    const SHIMS: &[&str] = &["__rust_alloc", "__rust_realloc", "__rg_", "__rdl_"];
    const C_ENTRIES: &[&str] = &[
        "malloc",
        "calloc",
        "realloc",
        "reallocarray",
        "posix_memalign",
        "aligned_alloc",
        "memalign",
        "valloc",
        "pvalloc",
    ];
    NAMES.iter().any(|n| function.starts_with(n))
        || SHIMS.iter().any(|n| function.contains(n))
        || C_ENTRIES.contains(&function)
        || function.contains("GlobalAlloc")
        || function.contains("leaklab::heap::rust::Counting")
        || file.is_some_and(|f| f.contains("src/heap/") || f.contains("vg_replace_malloc"))
}

/// The leak check's own frames (the API's loop, the lab's protocol loop in
/// its child, the fault sweep's): everything from here out is the caller
/// of the check and the test harness.
pub(super) fn is_the_check(function: &str) -> bool {
    // The API's loop, and the lab's own protocol loop in its child.
    [
        "leaklab::check::",
        "leaklab_lab::run::measure::",
        "leaklab_lab::hardening::faults::",
    ]
    .iter()
    .any(|p| function.starts_with(p))
}

/// Whether a frame is the user's code: a source file that is neither
/// Rust's own (its library, the crates std vendors under `/rust/deps/`),
/// a dependency's (shown after the user's frames, as the library between
/// them and the allocation), a system library's (glibc's sources read "./string/strdup.c"), C built
/// by a build script (`target/…/build/<crate>/out/`: a bundled library's,
/// not its binding's), nor leaklab's.
fn is_yours(function: &str, file: Option<&str>) -> bool {
    let Some(file) = file else { return false };
    let rust_library = ["core::", "std::", "alloc::", "hashbrown::", "test::"]
        .iter()
        .any(|krate| function.trim_start_matches('<').starts_with(krate));
    let not_yours = file.starts_with("/rustc/")
        || file.starts_with("/rust/")
        || file.starts_with("./")
        || file.contains("/.cargo/registry/")
        || file.contains("/.cargo/git/")
        || (file.contains("/build/") && file.contains("/out/"))
        || function.trim_start_matches('<').starts_with("leaklab::");
    !(rust_library || not_yours)
}

/// A frame as the reader sees it: its file relative to here, and whether
/// it is the user's own.
fn frame((function, file, line): (String, Option<String>, Option<u32>)) -> Frame {
    let file = file.map(relative);
    Frame {
        yours: is_yours(&function, file.as_deref()),
        function,
        file,
        line,
    }
}

/// A stack as the reader wants it: machinery cut below, the check cut
/// above, your frames first, then the library frames between your
/// innermost frame and the allocation (the harness frames between your
/// closure and the check are left out).
fn trim(stack: Vec<Frame>) -> Vec<Frame> {
    let start = stack
        .iter()
        .position(|f| !is_machinery(&f.function, f.file.as_deref()))
        .unwrap_or(stack.len());
    let stack: Vec<Frame> = stack[start..]
        .iter()
        .take_while(|f| !is_the_check(&f.function))
        .cloned()
        .collect();
    let Some(innermost_yours) = stack.iter().position(|f| f.yours) else {
        return stack;
    };
    let yours = stack.iter().filter(|f| f.yours);
    yours.chain(&stack[..innermost_yours]).cloned().collect()
}

/// Another tool's stack (innermost first: function, file, line) as the
/// leak checks show theirs: allocator frames cut off, your frames first.
pub fn shown_frames(
    stack: impl Iterator<Item = (Option<String>, Option<String>, Option<u32>)>,
) -> Vec<Frame> {
    trim(
        stack
            .map(|(function, file, line)| {
                frame((function.unwrap_or_else(|| "???".into()), file, line))
            })
            .collect(),
    )
}

/// A raw stack (return addresses, innermost first) of a process whose
/// loaded objects are `objects`, as frames: each address stepped back into
/// its call and named, the allocator's and the signal handler's frames cut
/// off at the top, nothing reordered (a crash reads innermost first).
pub fn raw_stack_frames(objects: &[super::symbols::Object], stack: &[usize]) -> Vec<Frame> {
    let addresses: Vec<usize> = stack.iter().map(|ip| ip.saturating_sub(1)).collect();
    let symbols = super::symbols::resolve_in(objects, &addresses);
    let frames: Vec<Frame> = addresses
        .iter()
        .flat_map(|&a| {
            let found = symbols.get(&a).cloned().unwrap_or_default();
            // A library without debug info: the tool names the nearest
            // exported symbol before the address, which is often not the
            // function (a static one lies between): say so.
            let object = objects
                .iter()
                .find(|o| o.ranges.iter().any(|r| (r.0..r.1).contains(&a)));
            match (object, found.as_slice()) {
                (Some(o), [(name, None, _)]) if !name.contains('+') => {
                    let file = o.path.file_name().map_or_else(
                        || o.path.display().to_string(),
                        |n| n.to_string_lossy().into_owned(),
                    );
                    vec![(
                        format!("{file}+{:#x} (near {name})", a - o.base),
                        None,
                        None,
                    )]
                }
                _ => found,
            }
        })
        .map(frame)
        .collect();
    // A signal's stack starts in its handler: keep what lies under the
    // kernel's return trampoline (glibc's `__restore_rt`, which a tool
    // names after `sigaction`, the function before it).
    let start = frames
        .iter()
        .position(|f| f.function.contains("__restore_rt") || f.function.contains("sigaction"))
        .map_or(0, |i| i + 1);
    let frames = &frames[start..];
    let start = frames
        .iter()
        .position(|f| !is_machinery(&f.function, f.file.as_deref()))
        .unwrap_or(frames.len());
    frames[start..].to_vec()
}

/// A path under the current directory, relative to it.
fn relative(file: String) -> String {
    match std::env::current_dir() {
        Ok(dir) => match std::path::Path::new(&file).strip_prefix(&dir) {
            Ok(rest) => rest.display().to_string(),
            Err(_) => file,
        },
        Err(_) => file,
    }
}

/// Groups the recorded blocks by stack, with `reachable[i]` for block i.
#[cfg(not(miri))]
pub(super) fn group(recorded: &Recorded, reachable: &[bool]) -> Vec<Site> {
    // The return addresses point after their calls: step back into them.
    let mut addresses: Vec<usize> = recorded
        .kept
        .iter()
        .flat_map(|b| b.frames.iter().map(|ip| ip.saturating_sub(1)))
        .collect();
    addresses.sort_unstable();
    addresses.dedup();
    let symbols = super::symbols::resolve(&addresses);
    let mut by_stack: HashMap<(Side, Vec<usize>), Site> = HashMap::new();
    for (block, &reached) in recorded.kept.iter().zip(reachable) {
        let site = by_stack
            .entry((block.side, block.frames.clone()))
            .or_insert_with(|| Site {
                side: block.side,
                blocks: 0,
                bytes: 0,
                lost_blocks: 0,
                lost_bytes: 0,
                frames: trim(
                    block
                        .frames
                        .iter()
                        .flat_map(|&ip| symbols[&ip.saturating_sub(1)].iter().cloned().map(frame))
                        .collect(),
                ),
            });
        site.blocks += 1;
        site.bytes += block.size as u64;
        if !reached {
            site.lost_blocks += 1;
            site.lost_bytes += block.size as u64;
        }
    }
    // Stacks that differ only in addresses the reader never sees (a loop's
    // iterations) are one site to them.
    let mut sites: Vec<Site> = Vec::new();
    for site in by_stack.into_values() {
        match sites
            .iter_mut()
            .find(|s| s.side == site.side && s.frames == site.frames)
        {
            Some(same) => {
                same.blocks += site.blocks;
                same.bytes += site.bytes;
                same.lost_blocks += site.lost_blocks;
                same.lost_bytes += site.lost_bytes;
            }
            None => sites.push(site),
        }
    }
    sites.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(b.blocks.cmp(&a.blocks)));
    sites
}

/// The sites as a failure message and the lab's output show them: the
/// biggest few, each with its first frames, after a heading line naming
/// what was recorded (`recorded`: "2 more recorded calls").
pub fn describe(sites: &[Site], recorded: &str, f: &mut impl fmt::Write) -> fmt::Result {
    describe_with(sites, recorded, 0, f)
}

/// [`describe`], ending with the blocks the recorder could not follow
/// (`unrecorded`: allocated past its capacity), if any.
pub fn describe_with(
    sites: &[Site],
    recorded: &str,
    unrecorded: u64,
    f: &mut impl fmt::Write,
) -> fmt::Result {
    const SHOWN_SITES: usize = 5;
    const SHOWN_FRAMES: usize = 8;
    write!(
        f,
        "allocation stacks of what {recorded} kept, biggest first:"
    )?;
    for site in sites.iter().take(SHOWN_SITES) {
        write!(
            f,
            "\n  {}: {} blocks / {} B, {}, allocated at:",
            site.side,
            site.blocks,
            site.bytes,
            site.state()
        )?;
        if site.frames.is_empty() {
            write!(f, "\n      {NO_FRAMES}")?;
        }
        for frame in site.frames.iter().take(SHOWN_FRAMES) {
            write!(f, "\n      {frame}")?;
        }
        if site.frames.len() > SHOWN_FRAMES {
            write!(
                f,
                "\n      … {} more frames",
                site.frames.len() - SHOWN_FRAMES
            )?;
        }
    }
    if sites.len() > SHOWN_SITES {
        write!(f, "\n  … {} more stacks", sites.len() - SHOWN_SITES)?;
    }
    if unrecorded > 0 {
        write!(
            f,
            "\n  … {unrecorded} more blocks not recorded (the recorder follows {} blocks per \
             recording; the figures above count them, the stacks and the split do not)",
            RECORDER_CAPACITY
        )?;
    }
    Ok(())
}

/// Blocks one recording follows.
#[cfg(not(miri))]
use crate::heap::stacks::CAPACITY as RECORDER_CAPACITY;
/// Under Miri nothing is recorded.
#[cfg(miri)]
const RECORDER_CAPACITY: usize = 0;

/// Said in place of an empty stack: no frame could be named.
pub const NO_FRAMES: &str = "(no frame could be resolved: this build has no symbols or debug \
     info for them; build the tests with `debug = true`, or `debug = \"line-tables-only\"`, in \
     [profile.test] / [profile.release] to name the frames)";

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(stack: &[(&str, Option<&str>)]) -> Vec<String> {
        shown_frames(
            stack
                .iter()
                .map(|(f, file)| (Some(f.to_string()), file.map(str::to_owned), Some(1))),
        )
        .iter()
        .map(|f| f.function.clone())
        .collect()
    }

    #[test]
    fn a_bundled_c_library_is_not_yours_but_the_binding_that_called_it_is_shown() {
        let frames = shown(&[
            ("malloc", None),
            (
                "CRYPTO_zalloc",
                Some("/t/target/debug/build/openssl-sys-1/out/openssl-build/crypto/mem.c"),
            ),
            (
                "openssl::derive::Deriver::new",
                Some("/h/.cargo/registry/src/index.crates.io-1/openssl-0.10.35/src/derive.rs"),
            ),
            ("my_crate::tests::derive", Some("src/lib.rs")),
            (
                "core::ops::function::FnOnce::call_once",
                Some("/rustc/abc/library/core/src/ops/function.rs"),
            ),
        ]);
        assert_eq!(frames[0], "my_crate::tests::derive");
        assert!(frames.contains(&"openssl::derive::Deriver::new".to_string()));
    }

    #[test]
    fn a_stack_with_no_frame_says_how_to_get_them() {
        let site = Site {
            side: Side::C,
            blocks: 1,
            bytes: 8,
            lost_blocks: 1,
            lost_bytes: 8,
            frames: Vec::new(),
        };
        let mut text = String::new();
        describe_with(&[site], "2 more recorded calls", 3, &mut text).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[1].ends_with("allocated at:"), "{text}");
        assert!(lines[2].contains("no frame could be resolved"), "{text}");
        assert!(lines[2].contains("debug = true"), "{text}");
        assert!(lines[3].contains("… 3 more blocks not recorded"), "{text}");
    }

    #[test]
    fn std_vendored_crates_and_leaklab_are_never_the_top_frame() {
        let frames = shown(&[
            ("malloc", None),
            (
                "do_alloc<alloc::alloc::Global>",
                Some("/rust/deps/hashbrown-0.16.1/src/raw/alloc.rs"),
            ),
            (
                "leaklab::watch_page::x",
                Some("/w/crates/leaklab/src/watch_page.rs"),
            ),
            ("probe::tests::hashmap", Some("src/lib.rs")),
        ]);
        assert_eq!(frames[0], "probe::tests::hashmap");
    }
}

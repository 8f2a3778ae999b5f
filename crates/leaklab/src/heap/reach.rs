//! Which kept blocks are still reachable: a conservative scan of the
//! process's writable memory for pointers into them, as memcheck and
//! LeakSanitizer do at exit, but at any moment and for a given set of
//! blocks.
//!
//! A block is reachable if a word anywhere in writable memory outside the
//! kept blocks points at its start, or a word inside a reachable kept block
//! does; else it is lost. Pointers into its middle do not count, as the
//! lab counts memcheck's "possibly lost" (interior pointers only) as lost. Skipped as roots: the blocks freed while
//! recording (their stale contents), the recorder's store, the scanner's
//! own buffer (scans run one at a time, so no scan reads another's
//! copy of memory), and the calling thread's stack below the scan (the scan's
//! own frames). Conservative as every such scanner is: a stale copy of a
//! pointer elsewhere makes a lost block look reachable, never the reverse.
//! Memory is read with `process_vm_readv` on the process itself, so a
//! mapping another thread unmaps mid-scan is an error code, not a crash.

use std::ptr;
use std::sync::Mutex;

use super::HIDE;
use super::stacks::{self, Block, Recorded};

const CHUNK: usize = 1 << 20;

/// For each block of `recorded.kept` (in order): true if reachable.
pub fn reachable(recorded: &Recorded) -> Vec<bool> {
    classify(recorded)
        .into_iter()
        .map(|c| c == Class::Reachable)
        .collect()
}

/// How a scan classes a kept block, in memcheck's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// A pointer to its start, from a root or a reachable block.
    Reachable,
    /// Pointers into its middle only (memcheck's "possibly lost"; the lab's
    /// own checks count it as lost).
    Possible,
    /// No pointer at all, or only from lost blocks (definite + indirect).
    Lost,
}

/// Where the scan looks for roots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Roots {
    /// All writable memory outside the kept blocks (the lab's recordings,
    /// whose freed blocks are known and skipped).
    Everywhere,
    /// At a process's exit, over every live block, with freed blocks
    /// zeroed as they were freed: all writable memory but other threads'
    /// stacks, which at exit are exited threads' cached stacks, stale
    /// pointers and all. A root missed this way (a thread still running
    /// at exit) calls a block lost that is not: the caller confirms with
    /// memcheck.
    DataAndThisStack,
}

/// For each block of `recorded.kept` (in order): its [`Class`].
pub fn classify(recorded: &Recorded) -> Vec<Class> {
    classify_with(recorded, Roots::Everywhere)
}

/// [`classify`], with roots from `roots`.
pub fn classify_with(recorded: &Recorded, roots: Roots) -> Vec<Class> {
    // One scan at a time: a scan's buffer holds a copy of other threads'
    // memory, stale pointers included, which another thread's scan would
    // read as roots. The buffer is unmapped before the lock is released.
    let _one_at_a_time = SCANNING.lock().unwrap_or_else(|e| e.into_inner());
    // The scan's own frames lie below this one: they are not scanned.
    let marker = 0u8;
    scan(recorded, ptr::addr_of!(marker) as usize, roots)
}

static SCANNING: Mutex<()> = Mutex::new(());

#[inline(never)]
fn scan(recorded: &Recorded, below: usize, roots: Roots) -> Vec<Class> {
    // Words are read from `below` up, in steps of a word: from a byte
    // address (a `u8` marker's), every word of the stack above would be
    // read across two slots and no pointer kept there seen (the callers'
    // locals: a `process::exit` with a live `Vec` on main's stack looked
    // lost). Rounded up to the next word: the scan's own frames stay out.
    let below = below.next_multiple_of(size_of::<usize>());
    let kept = &recorded.kept;
    let mut order: Vec<usize> = (0..kept.len()).collect();
    order.sort_by_key(|&i| kept[i].address());
    let mut edges: Vec<(usize, usize)> = Vec::new();
    let mut interior_edges: Vec<(usize, usize)> = Vec::new();
    let mut reached = vec![false; kept.len()];
    let mut interior = vec![false; kept.len()];
    let Some(buffer) = Buffer::new() else {
        // Cannot scan: claim nothing is lost.
        return vec![Class::Reachable; kept.len()];
    };
    let find = |word: usize| -> Option<usize> {
        let at = order.partition_point(|&i| kept[i].address() <= word);
        let i = *order.get(at.checked_sub(1)?)?;
        let b = &kept[i];
        (word < b.address() + b.size.max(1)).then_some(i)
    };
    // Regions whose words are no roots, disguised like the blocks (this
    // list is itself in scanned memory). A freed region now holding a kept
    // block is that block's, not stale.
    let mut skip: Vec<(usize, usize)> = recorded
        .freed_regions()
        .filter(|&(start, _)| find(start).is_none())
        .chain(stacks::store_regions())
        .chain([(buffer.ptr as usize, CHUNK)])
        .map(|(start, size)| (start ^ HIDE, size))
        .collect();
    skip.sort_unstable_by_key(|&(hidden, _)| hidden ^ HIDE);
    let skipped = |location: usize| {
        let at = skip.partition_point(|&(hidden, _)| hidden ^ HIDE <= location);
        at > 0 && {
            let (hidden, size) = skip[at - 1];
            location < (hidden ^ HIDE) + size
        }
    };
    let lowest = kept.iter().map(Block::address).min().unwrap_or(0);
    let highest = kept.iter().map(|b| b.address() + b.size).max().unwrap_or(0);
    // The recorder's store, the buffer and the fresh region's unused part
    // are not read at all (megabytes of disguised addresses, return
    // addresses and never-touched pages).
    let unread: Vec<(usize, usize)> = stacks::store_regions()
        .into_iter()
        .chain([(buffer.ptr as usize, CHUNK), super::fresh::unused()])
        .map(|(start, size)| (start, start + size))
        .collect();
    let regions = match roots {
        Roots::Everywhere => writable_regions()
            .into_iter()
            .map(|r| (r.start, r.end))
            .collect(),
        // The arenas are among them, so every live block is read too.
        Roots::DataAndThisStack => data_and_stack(writable_regions(), below),
    };
    for (start, end) in without(regions, &unread) {
        let start = if (start..end).contains(&below) {
            below
        } else {
            start
        };
        let mut at = start;
        while at < end {
            let len = CHUNK.min(end - at);
            if resident(at, len)
                && let Some(words) = buffer.read(at, len)
            {
                // One compare per word on the hot path: most words are no
                // pointer into the kept blocks' span.
                let span = highest - lowest;
                let outside = |w: &usize| w.wrapping_sub(lowest) >= span;
                // Runs of 8 words tested at once (vectorized): most hold no
                // pointer into the kept blocks' span.
                for (r, run) in words.chunks(8).enumerate() {
                    if run.iter().all(outside) {
                        continue;
                    }
                    for (j, &word) in run.iter().enumerate() {
                        let Some(target) = find(word) else {
                            continue;
                        };
                        let block = &kept[target];
                        let start = block.address() == word;
                        if !start && word == block.address() + next_chunk_offset(block.size) {
                            // glibc's own pointer to the next chunk's
                            // header (main_arena.top, a free chunk's
                            // fd/bk), which lies in this block's tail.
                            continue;
                        }
                        let location = at + (r * 8 + j) * size_of::<usize>();
                        if skipped(location) {
                            continue;
                        }
                        match (find(location), start) {
                            (Some(holder), _) if holder == target => {}
                            (Some(holder), true) => edges.push((holder, target)),
                            (Some(holder), false) => interior_edges.push((holder, target)),
                            (None, true) => reached[target] = true,
                            (None, false) => interior[target] = true,
                        }
                    }
                }
            }
            at += len;
        }
    }
    // Flood from the roots through kept blocks that point at kept blocks.
    let mut changed = true;
    while changed {
        changed = false;
        for &(holder, target) in &edges {
            if reached[holder] && !reached[target] {
                reached[target] = true;
                changed = true;
            }
        }
    }
    for &(holder, target) in &interior_edges {
        interior[target] |= reached[holder];
    }
    reached
        .iter()
        .zip(&interior)
        .map(|(&start, &middle)| match (start, middle) {
            (true, _) => Class::Reachable,
            (false, true) => Class::Possible,
            (false, false) => Class::Lost,
        })
        .collect()
}

/// Where glibc's header of the chunk after a block of `size` requested
/// bytes sits, from the block's start: its chunk is `size` plus the 8-byte
/// size field, rounded up to 16, at least 32, and starts 16 bytes before
/// the block, so the next header is at `chunk - 16`. For sizes with
/// `size % 16` in 1..=8 (above 16) that is inside the block's last 8 bytes
/// (glibc lends them to the block): a word there that points at it is
/// glibc's metadata (the top chunk's address in `main_arena`, a free
/// chunk's list links), not a reference to the block. memcheck, which
/// keeps its metadata apart, never sees such words; neither must the scan.
///
/// ```
/// # use leaklab::heap::reach::next_chunk_offset;
/// assert_eq!(next_chunk_offset(24), 16); // inside a 24-byte block
/// assert_eq!(next_chunk_offset(40), 32);
/// assert_eq!(next_chunk_offset(48), 48); // just past its end
/// assert_eq!(next_chunk_offset(1), 16);
/// ```
pub fn next_chunk_offset(size: usize) -> usize {
    let chunk = (size.saturating_add(8 + 15) & !15).max(32);
    chunk - 16
}

/// Whether any page of `[addr, addr + len)` is in memory. A page never
/// touched holds no pointer the program wrote (reading it would only fault
/// in zeroes: thread stacks and arenas reserve far more than they use).
/// Pages swapped out would be skipped too; the lab's machines run without
/// swap. Unknown (mincore failed): scanned.
fn resident(addr: usize, len: usize) -> bool {
    const PAGES: usize = CHUNK / 4096;
    let mut pages = [0u8; PAGES];
    // SAFETY: `addr` is page-aligned (mapping starts and CHUNK steps are),
    // `len` <= CHUNK, so at most PAGES entries are written.
    let failed = unsafe { libc::mincore(addr as *mut libc::c_void, len, pages.as_mut_ptr()) } != 0;
    failed || pages.iter().any(|p| p & 1 != 0)
}

/// `regions` with the `holes` cut out.
fn without(regions: Vec<(usize, usize)>, holes: &[(usize, usize)]) -> Vec<(usize, usize)> {
    let mut out = regions;
    for &(h0, h1) in holes {
        out = out
            .into_iter()
            .flat_map(|(r0, r1)| {
                if h1 <= r0 || h0 >= r1 {
                    vec![(r0, r1)]
                } else {
                    [(r0, h0.max(r0)), (h1.min(r1), r1)]
                        .into_iter()
                        .filter(|(a, b)| a < b)
                        .collect()
                }
            })
            .collect();
    }
    out
}

/// The calling thread's thread pointer: its TLS block and thread control
/// block, where thread-locals point from (x86-64: the TCB's self-pointer
/// at %fs:0).
fn thread_pointer() -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    {
        let tp: usize;
        // SAFETY: on x86-64 Linux, %fs:0 always holds the TCB's own
        // address (the ABI's self-pointer); a plain load.
        unsafe {
            std::arch::asm!("mov {}, fs:0", out(reg) tp, options(nostack, readonly, preserves_flags))
        };
        Some(tp)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        None
    }
}

/// One private writable mapping of /proc/self/maps.
struct Region {
    start: usize,
    end: usize,
    /// The mapped file's path, `[heap]`, `[stack]`, or empty (anonymous).
    name: String,
    /// Right above an inaccessible mapping: a thread stack's guard page.
    above_guard: bool,
}

/// Every private writable mapping, from /proc/self/maps.
fn writable_regions() -> Vec<Region> {
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return Vec::new();
    };
    let mut guard_end = None;
    maps.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let range = fields.next()?;
            let perms = fields.next()?;
            let (start, end) = range.split_once('-')?;
            let (start, end) = (
                usize::from_str_radix(start, 16).ok()?,
                usize::from_str_radix(end, 16).ok()?,
            );
            let above_guard = guard_end == Some(start);
            guard_end = perms.starts_with("---").then_some(end);
            if !perms.starts_with("rw") {
                return None;
            }
            let name = line.split_whitespace().nth(5).unwrap_or("");
            if name.starts_with("[v") {
                return None; // [vvar], [vsyscall]: the kernel's
            }
            Some(Region {
                start,
                end,
                name: name.to_owned(),
                above_guard,
            })
        })
        .collect()
}

/// The roots of [`Roots::DataAndThisStack`]: every writable mapping but
/// the stacks of other threads (anonymous, right above a guard page),
/// which at exit are the cached stacks of exited threads, stale pointers
/// and all. Of those, only glibc's thread descriptor at the very top is
/// read (its TLS vector and pthread-key data stay allocated with the
/// cached stack), less its `start_routine` and `arg`: `arg` still points
/// at the spawn closure's block, freed when the thread started and often
/// handed out again (a lost `Box` of 8 bytes looked reachable through
/// it). Not the static TLS below the descriptor nor the frames below that:
/// a dead thread's old frames hold stale pointers to blocks it lost. Free
/// heap memory holds no stale pointer: the shim zeroes blocks as they are
/// freed (`interpose::scrub_freed`).
fn data_and_stack(regions: Vec<Region>, below: usize) -> Vec<(usize, usize)> {
    let layout = Descriptor::of_this_glibc();
    let tls = thread_pointer();
    let mut roots = Vec::with_capacity(regions.len() + 8);
    let mut vectors = TlsVectors::cleared();
    for r in regions {
        let here = |at: usize| (r.start..r.end).contains(&at);
        if !(r.name.is_empty() && r.above_guard) || here(below) || tls.is_some_and(here) {
            roots.push((r.start, r.end));
        } else {
            roots.extend(layout.words_to_read(r.start, r.end));
            vectors.add(layout.tls_vector(r.start, r.end));
        }
    }
    roots
}

/// Where the thread descriptors' TLS vectors start, for the scan to read
/// (this static is in a writable mapping, a root like any other). glibc
/// keeps `dtv + 1` in the descriptor, the vector's first entry being its
/// length: read as is, that pointer 16 bytes in made every cached
/// thread's vector "possibly lost" (288 or 304 bytes a thread, more than
/// the runtime's own and so a memcheck run for a test that had none).
struct TlsVectors {
    next: usize,
}

static TLS_VECTOR_STARTS: [std::sync::atomic::AtomicUsize; 256] =
    [const { std::sync::atomic::AtomicUsize::new(0) }; 256];

impl TlsVectors {
    /// Forgets the last scan's (a vector freed since is no root).
    fn cleared() -> TlsVectors {
        for slot in &TLS_VECTOR_STARTS {
            slot.store(0, std::sync::atomic::Ordering::Relaxed);
        }
        TlsVectors { next: 0 }
    }

    fn add(&mut self, start: Option<usize>) {
        if let (Some(start), Some(slot)) = (start, TLS_VECTOR_STARTS.get(self.next)) {
            slot.store(start, std::sync::atomic::Ordering::Relaxed);
            self.next += 1;
        }
    }
}

/// Where glibc keeps a thread's descriptor (`struct pthread`) in the
/// thread's stack mapping, from the sizes and offsets it publishes for
/// debuggers (`_thread_db_*`).
struct Descriptor {
    /// Its size, rounded up to the 64-byte alignment it is placed at.
    size: usize,
    /// The offset of `start_routine`, which `arg` follows.
    start_routine: Option<usize>,
    /// The offset of the TLS vector's pointer (`header.dtv`), x86-64:
    /// where glibc installs it as `dtv + 1`, 16 bytes into its block.
    tls_vector: Option<usize>,
}

impl Descriptor {
    /// glibc's figures, or a size of 2560 (above every glibc's so far) and
    /// no known offset where it publishes none.
    fn of_this_glibc() -> Descriptor {
        // `_thread_db_sizeof_pthread` is a `const uint32_t`; a field's
        // `_thread_db_pthread_<field>` is `const uint32_t[3]`: bits, count,
        // offset.
        let size = published(c"_thread_db_sizeof_pthread", 0);
        let start_routine = published(c"_thread_db_pthread_start_routine", 2);
        let tls_vector =
            published(c"_thread_db_pthread_dtvp", 2).filter(|_| cfg!(target_arch = "x86_64"));
        Descriptor {
            size: size.map_or(2560, |s| s.next_multiple_of(64)),
            start_routine,
            tls_vector,
        }
    }

    /// The start of the TLS vector the descriptor at the top of
    /// `start..end` points into (its pointer less one 16-byte entry).
    fn tls_vector(&self, start: usize, end: usize) -> Option<usize> {
        let descriptor = (end.saturating_sub(self.size) & !63).max(start);
        let at = descriptor + self.tls_vector?;
        if at + size_of::<usize>() > end {
            return None;
        }
        // Read as the scan reads (a stack another thread frees meanwhile
        // fails with EFAULT, not a fault here).
        let mut value = 0usize;
        let local = libc::iovec {
            iov_base: (&raw mut value).cast(),
            iov_len: size_of::<usize>(),
        };
        let remote = libc::iovec {
            iov_base: at as *mut libc::c_void,
            iov_len: size_of::<usize>(),
        };
        // SAFETY: reads one word of this process into `value`, a local of
        // that size; a bad remote address fails with EFAULT.
        let got = unsafe { libc::process_vm_readv(libc::getpid(), &local, 1, &remote, 1, 0) };
        (got == size_of::<usize>() as isize)
            .then(|| value.checked_sub(16))
            .flatten()
            .filter(|&v| v != 0)
    }

    /// The parts of the descriptor at the top of `start..end` to read.
    fn words_to_read(&self, start: usize, end: usize) -> Vec<(usize, usize)> {
        let descriptor = (end.saturating_sub(self.size) & !63).max(start);
        match self.start_routine {
            // `start_routine` and `arg`, two words.
            Some(offset) if descriptor + offset + 16 <= end => without(
                vec![(descriptor, end)],
                &[(descriptor + offset, descriptor + offset + 16)],
            ),
            _ => vec![(descriptor, end)],
        }
    }
}

/// The `index`th `u32` of the glibc symbol `name`, if glibc defines it.
fn published(name: &std::ffi::CStr, index: usize) -> Option<usize> {
    // SAFETY: a symbol lookup by a NUL-terminated name.
    let symbol = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
    // SAFETY: where glibc defines these symbols they are `const uint32_t`
    // arrays of at least `index + 1` elements (`reach` asks for 0 of a
    // scalar, 2 of a field's triple).
    (!symbol.is_null()).then(|| unsafe { *symbol.cast::<u32>().add(index) } as usize)
}

/// A scan buffer outside the heap (so it holds no copy the heap scan sees).
struct Buffer {
    ptr: *mut usize,
}

impl Buffer {
    fn new() -> Option<Buffer> {
        // SAFETY: an anonymous private mapping; no existing memory involved.
        let mapped = unsafe {
            libc::mmap(
                ptr::null_mut(),
                CHUNK,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        (mapped != libc::MAP_FAILED).then(|| Buffer { ptr: mapped.cast() })
    }

    /// Copies `len` bytes at `addr` of this process into the buffer.
    fn read(&self, addr: usize, len: usize) -> Option<&[usize]> {
        let local = libc::iovec {
            iov_base: self.ptr.cast(),
            iov_len: len,
        };
        let remote = libc::iovec {
            iov_base: addr as *mut libc::c_void,
            iov_len: len,
        };
        // SAFETY: reads from this process into our own mapping of CHUNK
        // bytes (len <= CHUNK); a bad remote range fails with EFAULT.
        let got = unsafe { libc::process_vm_readv(libc::getpid(), &local, 1, &remote, 1, 0) };
        if got <= 0 {
            return None;
        }
        let words = got as usize / size_of::<usize>();
        // SAFETY: the first `got` bytes of the buffer were just written.
        Some(unsafe { std::slice::from_raw_parts(self.ptr, words) })
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, of CHUNK bytes.
        unsafe { libc::munmap(self.ptr.cast(), CHUNK) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A block allocated and forgotten in a frame of its own (gone, and
    /// scrubbed, by the scan): only its disguised address is kept.
    #[inline(never)]
    fn forgotten() -> usize {
        Box::into_raw(Box::new([2u64; 8])) as usize ^ 0xffff
    }

    #[test]
    fn a_joined_thread_s_tls_vector_is_reachable_through_its_cached_descriptor() {
        crate::check::in_a_counted_process(
            "heap::reach::tests::a_joined_thread_s_tls_vector_is_reachable_through_its_cached_descriptor",
            || {
                let recording = stacks::start().expect("mapped");
                // A fresh stack (none cached yet in this process), and with
                // it glibc's TLS vector, kept with the stack once joined.
                std::thread::spawn(|| std::hint::black_box(1u8))
                    .join()
                    .expect("the thread ran");
                let recorded = recording.stop();
                let classes = classify_with(&recorded, Roots::DataAndThisStack);
                let sizes: Vec<(usize, Class)> = recorded
                    .kept
                    .iter()
                    .map(|b| b.size)
                    .zip(classes.iter().copied())
                    .collect();
                // The vector: 16 bytes an entry, at least 16 entries (the
                // modules' and glibc's surplus), the biggest block kept.
                let vector = sizes
                    .iter()
                    .filter(|(size, _)| size % 16 == 0 && *size >= 256)
                    .max_by_key(|(size, _)| *size);
                assert!(
                    vector.is_some_and(|&(_, class)| class == Class::Reachable),
                    "the TLS vector is reachable: {sizes:?}"
                );
            },
        );
    }

    #[test]
    fn a_block_held_by_a_static_or_a_live_frame_is_reachable_and_a_forgotten_one_is_lost() {
        crate::check::in_a_counted_process(
            "heap::reach::tests::a_block_held_by_a_static_or_a_live_frame_is_reachable_and_a_forgotten_one_is_lost",
            || {
                static HELD: std::sync::atomic::AtomicUsize =
                    std::sync::atomic::AtomicUsize::new(0);
                let recording = stacks::start().expect("mapped");
                let held = Box::into_raw(Box::new([1u64; 8]));
                HELD.store(held as usize, std::sync::atomic::Ordering::SeqCst);
                // Held by this frame only, which is live during the scan
                // (the scan reads the stack above its own frames).
                let local = std::hint::black_box([Box::into_raw(Box::new([3u64; 8]))]);
                let lost = forgotten();
                let recorded = recording.stop();
                crate::heap::scrub_stack();
                let verdict = reachable(&recorded);
                let of = |addr: usize| {
                    let i = recorded
                        .kept
                        .iter()
                        .position(|b| b.address() == addr)
                        .expect("recorded");
                    verdict[i]
                };
                assert!(of(held as usize), "held by a static");
                assert!(of(local[0] as usize), "held by a live frame");
                assert!(!of(lost ^ 0xffff), "no pointer to it anywhere");
                // SAFETY: all three made by Box::into_raw above.
                unsafe {
                    drop(Box::from_raw(held));
                    drop(Box::from_raw(local[0]));
                    drop(Box::from_raw((lost ^ 0xffff) as *mut [u64; 8]));
                }
            },
        );
    }
}

//! Per-site accounting for `leaklab watch`: every tracked allocation is
//! attributed to its allocation stack, every free to the site of its
//! block. Off unless the preload shim calls [`enable`] (then the hooks
//! cost one relaxed load each).
//!
//! Where things live (nothing here goes through the allocator it serves):
//! - the site table: a shared file mapping `<dir>/<pid>` the watcher reads
//!   (layout: crate::watch_sites), interned by hash, lock-free;
//! - block -> site: an open-addressed map of one `AtomicU64` per slot in
//!   an anonymous private mapping (`addr << 16 | site`), lock-free (CAS),
//!   tombstones reused by inserts. A fork's child gets its copy, and a
//!   site file of its own ([`in_child`]).
//!
//! The stack is walked by libgcc's `_Unwind_Backtrace` (heap/unwind.rs)
//! for outermost calls only: a call that re-entered the allocator (a
//! signal handler's, the unwinder's own first-walk allocations) is counted
//! under UNWALKED. No lock of ours is taken anywhere here; nothing waits.

use std::cell::{Cell, UnsafeCell};
use std::ffi::{CStr, c_void};
use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering::*};

use crate::watch_sites::{
    self as layout, FRAMES, MAP_SLOTS, OTHER, OTHER_KEY, READY, SITES, Table, UNWALKED,
    UNWALKED_KEY,
};

/// Slots an insert or a lookup tries before giving up.
const MAP_PROBES: usize = 128;
/// Entries a new stack tries before it goes to OTHER.
const SITE_PROBES: usize = 64;
const EMPTY: u64 = 0;
const TOMBSTONE: u64 = 1;

/// Frames walked: the shim's own (a handful) and then [`FRAMES`] more.
const WALKED: usize = FRAMES + 12;

static TABLE: AtomicPtr<Table> = AtomicPtr::new(std::ptr::null_mut());
/// The sampling mean in bytes (0: every allocation), set by [`enable`].
static SAMPLE_BYTES: AtomicU64 = AtomicU64::new(0);
/// Entries stacks may take, set by [`enable`].
static CAP: AtomicUsize = AtomicUsize::new(SITES - 2);

thread_local! {
    /// Bytes still to allocate before this thread's next sampled
    /// allocation, and its random state (const, no Drop: a plain
    /// `#[thread_local]`, which allocates nothing; see interpose/guard.rs).
    static COUNTDOWN: Cell<i64> = const { Cell::new(0) };
    static RANDOM: Cell<u64> = const { Cell::new(0) };
}
static MAP: AtomicPtr<AtomicU64> = AtomicPtr::new(std::ptr::null_mut());
/// The shim's own code, whose frames are not a site's: [start, end).
static OWN_START: AtomicUsize = AtomicUsize::new(0);
static OWN_END: AtomicUsize = AtomicUsize::new(0);
/// Where that code is the executable's (a program linking leaklab: every
/// frame of the program is in it), the allocator's entry points instead,
/// [start, end) each, 0 if unknown: a site's frames begin past the
/// outermost of them.
static ENTRIES: [(AtomicUsize, AtomicUsize); ENTRY_COUNT] =
    [const { (AtomicUsize::new(0), AtomicUsize::new(0)) }; ENTRY_COUNT];
const ENTRY_COUNT: usize = 10;
/// The directory of site files, copied by [`enable`] (the environment
/// may change later), for a fork's child.
static DIR: DirName = DirName(UnsafeCell::new([0; DIR_MAX]));
static DIR_LEN: AtomicUsize = AtomicUsize::new(0);
const DIR_MAX: usize = 448;

struct DirName(UnsafeCell<[u8; DIR_MAX]>);
// SAFETY: written once by `enable`, before any other thread of the
// program exists, and only read afterwards.
unsafe impl Sync for DirName {}

/// Resident bytes of what is mapped here, for the RSS the watcher leaves
/// out: the map's 16 MiB are address space, touched only where blocks
/// land (`mincore` says which pages); the table's file pages are counted
/// as this process touches them at most (header, the order list, a page
/// per site up to all of them), not as `mincore` would (the page cache
/// holds pages the watcher's reads brought in).
pub fn resident_bytes() -> usize {
    let (table, map) = (TABLE.load(Acquire), MAP.load(Acquire));
    if table.is_null() || map.is_null() {
        return 0;
    }
    // SAFETY: a whole table, mapped while TABLE holds it.
    let used = (unsafe { &*table }.header.used.load(Relaxed) as usize).min(SITES);
    let page = super::pages::size();
    let order = (4 * used).div_ceil(page);
    let sites = (used + 2).min((SITES * size_of::<layout::Site>()).div_ceil(page));
    (1 + order + sites) * page + super::pages::resident(map.cast(), MAP_SLOTS * 8)
}

/// Starts per-site accounting into `<dir>/<pid>`; false (and nothing
/// counted) if the file or the map cannot be made. Called once, from the
/// shim's constructor, before any other thread of the program runs.
pub fn enable(dir: &CStr, sample_bytes: u64, cap: usize) -> bool {
    CAP.store(cap.clamp(1, SITES - 2), Relaxed);
    let bytes = dir.to_bytes();
    if bytes.len() > DIR_MAX {
        return false;
    }
    own_code_range();
    // SAFETY: no other thread reads DIR yet (see DirName).
    unsafe { (&mut *DIR.0.get())[..bytes.len()].copy_from_slice(bytes) };
    DIR_LEN.store(bytes.len(), Release);
    let Some(table) = create_table(bytes) else {
        return false;
    };
    // SAFETY: a fresh private anonymous mapping; no memory of ours.
    let map = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            MAP_SLOTS * 8,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if map == libc::MAP_FAILED {
        return false;
    }
    MAP.store(map.cast(), Release);
    SAMPLE_BYTES.store(sample_bytes, Relaxed);
    // SAFETY: the table just made, whole.
    unsafe { &*table }
        .header
        .sample_bytes
        .store(sample_bytes, Relaxed);
    TABLE.store(table, Release);
    true
}

/// Whether this allocation of `size` bytes is sampled: every one when
/// not sampling, else one per `mean` bytes on average, the intervals
/// drawn from an exponential distribution (so the odds of a block are
/// `1 - exp(-size / mean)`, what [`layout::weight`] undoes).
fn sampled(size: usize, mean: u64) -> bool {
    if mean == 0 {
        return true;
    }
    let left = COUNTDOWN
        .get()
        .saturating_sub(i64::try_from(size).unwrap_or(i64::MAX));
    if left > 0 {
        COUNTDOWN.set(left);
        return false;
    }
    // xorshift64*, seeded per thread from its stack address and the time.
    let mut x = RANDOM.get();
    if x == 0 {
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: a valid out-pointer.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
        x = (&raw const now as u64) ^ (now.tv_nsec as u64).rotate_left(32) | 1;
    }
    // The next point of the process comes an exponential interval after
    // this one, which lies inside this block: what the block overshot
    // counts towards it (points that fall inside the block too are the
    // same sample).
    let mut next = left;
    while next <= 0 {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        let u = ((x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
        next += ((-u.ln() * mean as f64) as i64).max(1);
    }
    RANDOM.set(x);
    COUNTDOWN.set(next);
    true
}

/// The site file `<dir>/<pid>` for this process, created afresh (an
/// older one, of the image before an exec, is unlinked: its reader keeps
/// a whole file), mapped and initialised.
fn create_table(dir: &[u8]) -> Option<*mut Table> {
    let mut path = [0u8; 512];
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() } as u64;
    layout::file_name(dir, pid, &mut path)?;
    let path = path.as_ptr().cast::<libc::c_char>();
    // SAFETY: `path` is NUL-terminated (file_name); plain syscalls on it
    // and on our own descriptor.
    let fd = unsafe {
        libc::unlink(path);
        libc::open(
            path,
            libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC,
            0o600,
        )
    };
    if fd < 0 {
        return None;
    }
    // SAFETY: our descriptor; a fresh shared mapping of the file, which
    // is `LEN` bytes long once ftruncate succeeded.
    let map = unsafe {
        let sized = libc::ftruncate(fd, layout::LEN as libc::off_t) == 0;
        let map = if sized {
            libc::mmap(
                std::ptr::null_mut(),
                layout::LEN,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0,
            )
        } else {
            libc::MAP_FAILED
        };
        libc::close(fd);
        map
    };
    if map == libc::MAP_FAILED {
        return None;
    }
    let table = map.cast::<Table>();
    // SAFETY: a fresh zeroed mapping of a whole `Table` (all atomics).
    let t = unsafe { &*table };
    let h = &t.header;
    h.pid.store(pid, Relaxed);
    h.sites.store(SITES as u64, Relaxed);
    h.frames.store(FRAMES as u64, Relaxed);
    h.map_slots.store(MAP_SLOTS as u64, Relaxed);
    h.cap.store(CAP.load(Relaxed) as u64, Relaxed);
    h.mapped_bytes
        .store((layout::LEN + MAP_SLOTS * 8) as u64, Relaxed);
    t.sites[OTHER].key.store(OTHER_KEY, Relaxed);
    t.sites[OTHER].depth.store(READY, Relaxed);
    t.sites[UNWALKED].key.store(UNWALKED_KEY, Relaxed);
    t.sites[UNWALKED].depth.store(READY, Relaxed);
    h.magic.store(layout::MAGIC, Release);
    Some(table)
}

/// In a fork's child (its only thread): a site file of its own, holding
/// the parent's sites as they were (the child's copy of the heap is
/// theirs), so that the parent's file stays the parent's. Without one,
/// the child counts nothing.
pub fn in_child() {
    let old = TABLE.load(Acquire);
    if old.is_null() {
        return;
    }
    TABLE.store(std::ptr::null_mut(), Release);
    // SAFETY: written by `enable` before the table was set, read-only since.
    let dir = unsafe { &(&*DIR.0.get())[..DIR_LEN.load(Acquire)] };
    let new = create_table(dir);
    // SAFETY: `old` is the parent's mapping, still mapped in the child;
    // `new` a fresh one; both whole tables, and no other thread runs.
    unsafe {
        if let Some(new) = new {
            copy_sites(&*old, &*new);
            TABLE.store(new, Release);
        }
        libc::munmap(old.cast::<c_void>(), layout::LEN);
    }
}

fn copy_sites(from: &Table, to: &Table) {
    let (f, t) = (&from.header, &to.header);
    for (a, b) in [
        (&f.full, &t.full),
        (&f.unmapped_blocks, &t.unmapped_blocks),
        (&f.unmapped_bytes, &t.unmapped_bytes),
        (&f.unknown_frees, &t.unknown_frees),
    ] {
        b.store(a.load(Relaxed), Relaxed);
    }
    let used = (f.used.load(Relaxed) as usize).min(SITES);
    for i in 0..used {
        to.order[i].store(from.order[i].load(Relaxed), Relaxed);
    }
    for (a, b) in from.sites.iter().zip(&to.sites) {
        let key = a.key.load(Relaxed);
        if key == 0 {
            continue;
        }
        b.key.store(key, Relaxed);
        for (x, y) in a.frames.iter().zip(&b.frames) {
            y.store(x.load(Relaxed), Relaxed);
        }
        b.depth.store(a.depth.load(Relaxed), Relaxed);
        b.live_blocks.store(a.live_blocks.load(Relaxed), Relaxed);
        b.live_bytes.store(a.live_bytes.load(Relaxed), Relaxed);
        b.allocations.store(a.allocations.load(Relaxed), Relaxed);
        b.frees.store(a.frees.load(Relaxed), Relaxed);
    }
    t.used.store(used as u64, Release);
}

/// Hook: a block was recorded (`outer`: by the thread's outermost call,
/// which may walk its stack).
#[inline]
pub(super) fn on_alloc(addr: usize, size: usize, outer: bool) {
    on_alloc_above(addr, size, outer, 0);
}

/// [`on_alloc`] for a block the Rust allocator handed out, its stack
/// walked from the caller of the function whose frame holds `bound` (a
/// stack address): the Rust allocator calls no entry point of the C
/// allocator to trim the walk at.
#[inline]
pub(super) fn on_alloc_above(addr: usize, size: usize, outer: bool, bound: usize) {
    let table = TABLE.load(Acquire);
    if table.is_null() {
        return;
    }
    // SAFETY: set once to a whole table, never unmapped but by a fork's
    // child (which stores null first, and runs alone).
    let table = unsafe { &*table };
    let mean = SAMPLE_BYTES.load(Relaxed);
    // Re-entered calls are sampled alike (their weight assumes it); one
    // that interrupts the outer call's update of the countdown may lose
    // that update, which only shifts the next sample.
    if !sampled(size, mean) {
        return;
    }
    let site = match (outer, bound) {
        (false, _) => UNWALKED,
        (true, 0) => site_here(table),
        (true, bound) => site_above(table, bound),
    };
    if !map_insert(addr, site) {
        table.header.unmapped_blocks.fetch_add(1, Relaxed);
        table.header.unmapped_bytes.fetch_add(size as u64, Relaxed);
        return;
    }
    let (blocks, bytes) = layout::weight(size, mean);
    let s = &table.sites[site];
    s.allocations.fetch_add(blocks as u64, Relaxed);
    s.live_blocks.fetch_add(blocks, Relaxed);
    s.live_bytes.fetch_add(bytes, Relaxed);
}

/// Hook: a recorded block of `size` bytes is being freed.
#[inline]
pub(super) fn on_free(addr: usize, size: usize) {
    let table = TABLE.load(Acquire);
    if table.is_null() {
        return;
    }
    // SAFETY: as in `on_alloc`.
    let table = unsafe { &*table };
    let mean = SAMPLE_BYTES.load(Relaxed);
    let Some(site) = map_remove(addr) else {
        // Sampling, most blocks were never mapped.
        if mean == 0 {
            table.header.unknown_frees.fetch_add(1, Relaxed);
        }
        return;
    };
    let (blocks, bytes) = layout::weight(size, mean);
    let s = &table.sites[site];
    s.frees.fetch_add(blocks as u64, Relaxed);
    s.live_blocks.fetch_sub(blocks, Relaxed);
    s.live_bytes.fetch_sub(bytes, Relaxed);
}

/// The site of the calling stack: walked, the shim's own frames dropped,
/// hashed and interned.
fn site_here(table: &Table) -> usize {
    let mut walked = [0usize; WALKED];
    let depth = crate::heap::unwind::trace(&mut walked);
    let first = past_entry(&walked[..depth.min(WALKED - FRAMES)]).unwrap_or_else(|| {
        let (start, end) = (OWN_START.load(Relaxed), OWN_END.load(Relaxed));
        walked[..depth]
            .iter()
            .position(|&ip| !(start..end).contains(&ip))
            .unwrap_or(depth)
    });
    let frames = &walked[first..depth.min(first + FRAMES)];
    intern(table, frames)
}

/// The site of the calling stack from the caller of the function whose
/// frame holds `bound`.
fn site_above(table: &Table, bound: usize) -> usize {
    let mut walked = [0usize; FRAMES];
    let depth = crate::heap::unwind::trace_above(&mut walked, bound);
    intern(table, &walked[..depth])
}

fn hash(frames: &[usize]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ frames.len() as u64;
    for &f in frames {
        h = (h ^ f as u64).wrapping_mul(0x0000_0100_0000_01b3);
        h ^= h >> 29;
    }
    // Never 0 (free) nor a reserved key.
    match h {
        0 | OTHER_KEY | UNWALKED_KEY => 2,
        h => h,
    }
}

/// The entry of `frames`: found, or claimed and written; OTHER when
/// [`SITE_PROBES`] entries in a row are other stacks'.
fn intern(table: &Table, frames: &[usize]) -> usize {
    let key = hash(frames);
    let usable = CAP.load(Relaxed);
    let home = (key % usable as u64) as usize;
    for i in 0..SITE_PROBES {
        let index = 2 + (home + i) % usable;
        let site = &table.sites[index];
        let mut current = site.key.load(Acquire);
        if current == 0 {
            match site.key.compare_exchange(0, key, AcqRel, Acquire) {
                Ok(_) => {
                    for (slot, &f) in site.frames.iter().zip(frames) {
                        slot.store(f as u64, Relaxed);
                    }
                    site.depth.store(frames.len() as u64 | READY, Release);
                    let n = table.header.used.fetch_add(1, AcqRel) as usize;
                    if let Some(slot) = table.order.get(n) {
                        slot.store(index as u32, Release);
                    }
                    return index;
                }
                Err(now) => current = now,
            }
        }
        // The same hash: the same stack (its frames may still be being
        // written; the counts are atomics all the same).
        if current == key {
            return index;
        }
    }
    table.header.full.fetch_add(1, Relaxed);
    OTHER
}

fn map() -> Option<&'static [AtomicU64]> {
    let map = MAP.load(Acquire);
    // SAFETY: set once to MAP_SLOTS zeroed u64s, never unmapped.
    (!map.is_null()).then(|| unsafe { std::slice::from_raw_parts(map, MAP_SLOTS) })
}

/// The home slot of a block: its address in 16-byte units, so that
/// neighbouring blocks share pages of the map (a hashed slot would touch
/// a page of it per live block), offset by a hash of its 32 MiB region,
/// so that regions alike in their low bits (glibc's arenas, 64 MiB
/// aligned) do not pile up on the same slots.
fn slot_of(addr: usize) -> usize {
    let region = (addr as u64 >> 25).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40;
    ((addr as u64 >> 4).wrapping_add(region) as usize) & (MAP_SLOTS - 1)
}

/// Maps `addr` to `site`; false if the map has no slot for it.
fn map_insert(addr: usize, site: usize) -> bool {
    let Some(map) = map() else { return false };
    if addr >> 48 != 0 {
        return false;
    }
    let entry = (addr as u64) << 16 | site as u64;
    let home = slot_of(addr);
    for i in 0..MAP_PROBES {
        let slot = &map[(home + i) & (MAP_SLOTS - 1)];
        let v = slot.load(Relaxed);
        if (v == EMPTY || v == TOMBSTONE)
            && slot.compare_exchange(v, entry, Relaxed, Relaxed).is_ok()
        {
            return true;
        }
    }
    false
}

/// Whether sites are counted in this process.
pub fn enabled() -> bool {
    !TABLE.load(Acquire).is_null()
}

/// At exit, from the shim's scan: the live block at `addr` (`size`
/// bytes) is lost (`possible`: only possibly lost); its site (if the map
/// holds it) counts it.
pub fn note_lost(addr: usize, size: usize, possible: bool) {
    let table = TABLE.load(Acquire);
    let Some(map) = map() else { return };
    if table.is_null() {
        return;
    }
    // SAFETY: as in `on_alloc`.
    let table = unsafe { &*table };
    let home = slot_of(addr);
    for i in 0..MAP_PROBES {
        let v = map[(home + i) & (MAP_SLOTS - 1)].load(Relaxed);
        if v == EMPTY {
            return;
        }
        if v != TOMBSTONE && v >> 16 == addr as u64 {
            let (blocks, bytes) = layout::weight(size, SAMPLE_BYTES.load(Relaxed));
            let s = &table.sites[(v & 0xffff) as usize];
            let (b, n) = if possible {
                (&s.possible_blocks, &s.possible_bytes)
            } else {
                (&s.lost_blocks, &s.lost_bytes)
            };
            b.fetch_add(blocks, Relaxed);
            n.fetch_add(bytes, Relaxed);
            return;
        }
    }
}

/// At exit: every lost block was noted ([`note_lost`]); and how many
/// threads the process had at the scan (`threads`, from
/// [`threads_settled`]).
pub fn scanned(threads: u64) {
    let table = TABLE.load(Acquire);
    if !table.is_null() {
        // SAFETY: as in `on_alloc`.
        let header = &unsafe { &*table }.header;
        header.threads_at_exit.store(threads, Relaxed);
        header.scanned.store(1, Release);
    }
}

/// The thread count (`threads`), given a joined thread time to leave the count: `join`
/// returns when the kernel clears the thread's id, a little before it
/// takes the thread out of the process's count, so a test harness that
/// joined its test's thread right before `exit` may still read 2. Up to
/// 20 reads 1 ms apart while more than one thread is counted. Called
/// before the exit scan, so that the scan, too, sees an exited thread's
/// stack and TLS vector where glibc keeps them (its stack cache), not a
/// thread still on its way out.
pub fn threads_settled() -> u64 {
    let pause = libc::timespec {
        tv_sec: 0,
        tv_nsec: 1_000_000,
    };
    let mut n = threads();
    for _ in 0..20 {
        if n <= 1 {
            break;
        }
        // SAFETY: a valid timespec; an interrupted sleep just ends early.
        unsafe { libc::nanosleep(&pause, std::ptr::null_mut()) };
        n = threads();
    }
    n
}

/// This process's threads now (`/proc/self/stat`'s 20th field), read
/// without allocating; 0 if it cannot be read.
fn threads() -> u64 {
    let mut buf = [0u8; 1024];
    // SAFETY: a NUL-terminated path; plain syscalls on our own descriptor
    // and a buffer on this stack.
    let n = unsafe {
        let fd = libc::open(
            c"/proc/self/stat".as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        );
        if fd < 0 {
            return 0;
        }
        let n = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
        libc::close(fd);
        n
    };
    let Ok(n) = usize::try_from(n) else { return 0 };
    let text = &buf[..n];
    // The command name (field 2) may hold spaces: count after its ')'.
    let Some(close) = text.iter().rposition(|&c| c == b')') else {
        return 0;
    };
    text[close + 1..]
        .split(|&c| c == b' ')
        .filter(|f| !f.is_empty())
        .nth(17)
        .and_then(|f| {
            f.iter().try_fold(0u64, |n, &c| {
                c.is_ascii_digit()
                    .then(|| n.checked_mul(10)?.checked_add(u64::from(c - b'0')))
                    .flatten()
            })
        })
        .unwrap_or(0)
}

/// At exit, after the scan: this process's `/proc/self/maps`, copied to
/// `<dir>/<pid>.maps` (written under a temporary name and renamed, so a
/// reader sees all of it or nothing), without allocating. A process too
/// short for its reader to read its maps while it ran (a test) is named
/// from this copy.
pub fn save_maps() {
    if TABLE.load(Acquire).is_null() {
        return;
    }
    // SAFETY: written by `enable` before the table was set, read-only since.
    let dir = unsafe { &(&*DIR.0.get())[..DIR_LEN.load(Acquire)] };
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() } as u64;
    let suffix = layout::MAPS_SUFFIX.as_bytes();
    let (mut done, mut part) = ([0u8; 512], [0u8; 512]);
    let mut partial = [0u8; 16];
    partial[..suffix.len()].copy_from_slice(suffix);
    partial[suffix.len()..suffix.len() + 5].copy_from_slice(b".part");
    let partial = &partial[..suffix.len() + 5];
    if layout::file_name_with(dir, pid, suffix, &mut done).is_none()
        || layout::file_name_with(dir, pid, partial, &mut part).is_none()
    {
        return;
    }
    // SAFETY: NUL-terminated paths (file_name_with); plain syscalls on our
    // own descriptors and a buffer on this stack.
    unsafe {
        let from = libc::open(
            c"/proc/self/maps".as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        );
        if from < 0 {
            return;
        }
        let to = libc::open(
            part.as_ptr().cast(),
            libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC,
            0o600,
        );
        if to < 0 {
            libc::close(from);
            return;
        }
        let mut buf = [0u8; 4096];
        let mut whole = true;
        loop {
            let n = libc::read(from, buf.as_mut_ptr().cast(), buf.len());
            if n == 0 {
                break;
            }
            if n < 0 {
                if *libc::__errno_location() == libc::EINTR {
                    continue;
                }
                whole = false;
                break;
            }
            let mut written = 0;
            while written < n as usize {
                let w = libc::write(to, buf[written..].as_ptr().cast(), n as usize - written);
                if w <= 0 {
                    whole = false;
                    break;
                }
                written += w as usize;
            }
            if !whole {
                break;
            }
        }
        libc::close(from);
        libc::close(to);
        if whole {
            libc::rename(part.as_ptr().cast(), done.as_ptr().cast());
        } else {
            libc::unlink(part.as_ptr().cast());
        }
    }
}

/// Unmaps `addr`: its site, or None if the map did not hold it.
fn map_remove(addr: usize) -> Option<usize> {
    let map = map()?;
    let home = slot_of(addr);
    for i in 0..MAP_PROBES {
        let slot = &map[(home + i) & (MAP_SLOTS - 1)];
        let v = slot.load(Relaxed);
        if v == EMPTY {
            return None;
        }
        if v != TOMBSTONE
            && v >> 16 == addr as u64
            && slot
                .compare_exchange(v, TOMBSTONE, Relaxed, Relaxed)
                .is_ok()
        {
            return Some((v & 0xffff) as usize);
        }
    }
    None
}

/// The index just past the outermost of the allocator's entry points
/// among the innermost `frames` (None: no entry point known, or none of
/// them there).
fn past_entry(frames: &[usize]) -> Option<usize> {
    if ENTRIES[0].1.load(Relaxed) == 0 {
        return None;
    }
    frames
        .iter()
        .rposition(|&ip| {
            ENTRIES
                .iter()
                .any(|(start, end)| (start.load(Relaxed)..end.load(Relaxed)).contains(&ip))
        })
        .map(|i| i + 1)
}

/// Finds the loaded object holding this code, and keeps its range; when
/// it is the executable, the allocator's entry points too.
fn own_code_range() {
    let here = own_code_range as fn() as usize;
    let mut found = (here, 0usize, 0usize);
    // SAFETY: the callback reads only what glibc passes it for the length
    // of each call; `found` outlives the iteration.
    unsafe { libc::dl_iterate_phdr(Some(each_object), (&raw mut found).cast()) };
    OWN_START.store(found.1, Relaxed);
    OWN_END.store(found.2, Relaxed);
    // The executable's program headers are the ones the kernel passed.
    // SAFETY: getauxval has no preconditions.
    let main_phdr = unsafe { libc::getauxval(libc::AT_PHDR) } as usize;
    if main_phdr != 0 && (found.1..found.2).contains(&main_phdr) {
        entry_ranges();
    }
}

/// glibc's `dladdr1` flag for the symbol's ELF entry (dlfcn.h).
const RTLD_DL_SYMENT: libc::c_int = 1;

/// Keeps the range of each of the allocator's entry points, from the size
/// of its symbol (the executable exports them: every library calls them).
fn entry_ranges() {
    use super::*;
    let entries: [usize; ENTRY_COUNT] = [
        malloc as *const () as usize,
        calloc as *const () as usize,
        free as *const () as usize,
        realloc as *const () as usize,
        reallocarray as *const () as usize,
        memalign as *const () as usize,
        aligned_alloc as *const () as usize,
        posix_memalign as *const () as usize,
        valloc as *const () as usize,
        pvalloc as *const () as usize,
    ];
    for (slot, &start) in ENTRIES.iter().zip(&entries) {
        let mut sym: *const libc::Elf64_Sym = std::ptr::null();
        // SAFETY: a zeroed Dl_info is a valid out-buffer; with
        // RTLD_DL_SYMENT, dladdr1 stores a pointer to the symbol's entry
        // in the loader's (mapped, never freed) symbol table, or leaves it
        // NULL. Nothing is allocated.
        let size = unsafe {
            let mut info: libc::Dl_info = std::mem::zeroed();
            let found = libc::dladdr1(
                start as *const c_void,
                &mut info,
                (&raw mut sym).cast(),
                RTLD_DL_SYMENT,
            );
            if found == 0 || sym.is_null() || info.dli_saddr as usize != start {
                0
            } else {
                (*sym).st_size as usize
            }
        };
        if size > 0 {
            slot.0.store(start, Relaxed);
            slot.1.store(start + size, Relaxed);
        }
    }
}

unsafe extern "C" fn each_object(
    info: *mut libc::dl_phdr_info,
    _size: usize,
    data: *mut c_void,
) -> libc::c_int {
    // SAFETY: glibc passes a valid `info` for this call; `data` is the
    // tuple `own_code_range` passed.
    let (info, found) = unsafe { (&*info, &mut *data.cast::<(usize, usize, usize)>()) };
    let base = info.dlpi_addr as usize;
    // SAFETY: `dlpi_phdr` points at `dlpi_phnum` program headers.
    let headers =
        unsafe { std::slice::from_raw_parts(info.dlpi_phdr, usize::from(info.dlpi_phnum)) };
    let loads = headers.iter().filter(|h| h.p_type == libc::PT_LOAD);
    let (lo, hi) = loads.fold((usize::MAX, 0), |(lo, hi), h| {
        let start = base + h.p_vaddr as usize;
        (lo.min(start), hi.max(start + h.p_memsz as usize))
    });
    if (lo..hi).contains(&found.0) {
        *found = (found.0, lo, hi);
        return 1;
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stacks_hash_apart_and_never_to_a_reserved_key() {
        let a = hash(&[1, 2, 3]);
        assert_ne!(a, hash(&[1, 2, 4]));
        assert_ne!(a, hash(&[1, 2]));
        assert_eq!(a, hash(&[1, 2, 3]));
        assert!(![0, OTHER_KEY, UNWALKED_KEY].contains(&a));
    }
}

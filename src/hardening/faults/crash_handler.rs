//! In the faults child: when the library crashes (a fatal signal) or calls
//! `exit` in the middle of a point, write on stderr the stack of the
//! allocation that was failed and the stack where it ended, as raw return
//! addresses; the parent names them after the fact from the objects the
//! child listed at start ([`objects_lines`]). The handlers allocate nothing
//! and take no lock: they unwind with the lab's unwinder into the stack
//! and write with `write(2)`.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

/// A line holding the failed allocation's stack.
pub const FAILED_STACK: &str = "leaklab-faults-failed-stack";
/// A line holding the stack at a fatal signal.
pub const CRASH_STACK: &str = "leaklab-faults-crash-stack";
/// A line holding the stack at an `exit` inside a point.
pub const EXIT_STACK: &str = "leaklab-faults-exit-stack";
/// A line naming one loaded object: base, ranges, path.
pub const OBJECT: &str = "leaklab-faults-object";

/// Whether a point is running (an `exit` outside one is the child's own).
static IN_POINT: AtomicBool = AtomicBool::new(false);

const FRAMES: usize = 64;

/// The signals that end a process with a crash.
const FATAL: [libc::c_int; 5] = [
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGABRT,
    libc::SIGFPE,
    libc::SIGILL,
];

/// Marks a point running or over.
pub fn in_point(running: bool) {
    IN_POINT.store(running, Relaxed);
}

/// Installs the fatal-signal handlers (on their own stack, so a stack
/// overflow is reported too) and the `atexit` handler. Once, in the child.
pub fn install() {
    crate::check::child::alternate_signal_stack();
    for signal in FATAL {
        // SAFETY: a zeroed sigaction is a valid start; the handler has the
        // plain one-argument signature that flags without SA_SIGINFO use.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_fatal_signal as extern "C" fn(libc::c_int) as usize;
            action.sa_flags = libc::SA_ONSTACK | libc::SA_RESETHAND | libc::SA_NODEFER;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
    // SAFETY: `on_exit` is an `extern "C" fn()` that lives as long as the process.
    unsafe { libc::atexit(on_exit) };
}

/// The loaded objects, one line each, for the parent to name addresses by.
pub fn objects_lines() -> Vec<String> {
    crate::check::loaded_objects()
        .into_iter()
        .map(|o| {
            let ranges: Vec<String> = o
                .ranges
                .iter()
                .map(|(start, end)| format!("{start:x}-{end:x}"))
                .collect();
            format!(
                "{OBJECT} {:x} {} {}",
                o.base,
                ranges.join(","),
                o.path.display()
            )
        })
        .collect()
}

/// Reads back [`objects_lines`].
pub fn parse_object(line: &str) -> Option<crate::check::LoadedObject> {
    let rest = line.strip_prefix(OBJECT)?.trim_start();
    let mut fields = rest.splitn(3, ' ');
    let base = usize::from_str_radix(fields.next()?, 16).ok()?;
    let ranges = fields
        .next()?
        .split(',')
        .filter(|r| !r.is_empty())
        .map(|r| {
            let (start, end) = r.split_once('-')?;
            Some((
                usize::from_str_radix(start, 16).ok()?,
                usize::from_str_radix(end, 16).ok()?,
            ))
        })
        .collect::<Option<Vec<_>>>()?;
    let path = fields.next()?.into();
    Some(crate::check::LoadedObject { path, base, ranges })
}

/// Reads back a stack line written by a handler.
pub fn parse_stack(line: &str, marker: &str) -> Option<Vec<usize>> {
    let rest = line.strip_prefix(marker)?;
    Some(
        rest.split_whitespace()
            .filter_map(|ip| usize::from_str_radix(ip, 16).ok())
            .collect(),
    )
}

extern "C" fn on_fatal_signal(_signal: libc::c_int) {
    write_stacks(CRASH_STACK);
    // SA_RESETHAND restored the default action: returning re-runs the
    // faulting instruction (or abort raises again) and the process dies by
    // the same signal, which the parent reads from its status.
}

extern "C" fn on_exit() {
    if IN_POINT.load(Relaxed) {
        write_stacks(EXIT_STACK);
    }
}

/// Writes the failed allocation's stack and the current one.
fn write_stacks(marker: &str) {
    let mut frames = [0usize; FRAMES];
    let depth = crate::heap::c::failed_allocation_stack(&mut frames);
    write_line(FAILED_STACK, &frames[..depth]);
    let depth = crate::heap::unwind::trace(&mut frames);
    write_line(marker, &frames[..depth]);
}

/// `marker ip ip …\n` on fd 2, formatted into the stack.
fn write_line(marker: &str, frames: &[usize]) {
    let mut line = [0u8; 32 + FRAMES * 17];
    let mut len = 0;
    for &b in marker.as_bytes() {
        line[len] = b;
        len += 1;
    }
    for &ip in frames {
        line[len] = b' ';
        len += 1;
        len += hex(ip, &mut line[len..len + 16]);
    }
    line[len] = b'\n';
    len += 1;
    // SAFETY: `line[..len]` is initialized; fd 2 is stderr (a failed write
    // loses the line, nothing more).
    unsafe { libc::write(2, line.as_ptr().cast(), len) };
}

/// `value` in hex into `out` (16 bytes at most); returns the digits written.
fn hex(value: usize, out: &mut [u8]) -> usize {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let digits = ((usize::BITS - value.leading_zeros()).div_ceil(4)).max(1) as usize;
    for i in 0..digits {
        out[digits - 1 - i] = DIGITS[(value >> (4 * i)) & 0xf];
    }
    digits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_objects_read_back() {
        let mut out = [0u8; 16];
        let n = hex(0x7f3a_0012_34ab, &mut out);
        assert_eq!(&out[..n], b"7f3a001234ab");
        assert_eq!(hex(0, &mut out), 1);
        let line = format!("{CRASH_STACK} 7f3a001234ab 10");
        assert_eq!(
            parse_stack(&line, CRASH_STACK),
            Some(vec![0x7f3a_0012_34ab, 0x10])
        );
        let object = parse_object(&format!("{OBJECT} 1000 1000-2000,3000-4000 /lib/a b.so"))
            .expect("an object line");
        assert_eq!(object.base, 0x1000);
        assert_eq!(object.ranges, vec![(0x1000, 0x2000), (0x3000, 0x4000)]);
        assert_eq!(object.path, std::path::PathBuf::from("/lib/a b.so"));
    }
}

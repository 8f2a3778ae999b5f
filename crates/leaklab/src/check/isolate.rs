//! One fault point run first in a forked child, so that a library which
//! crashes, calls `exit` or hangs when one of its allocations fails ends
//! that child, not the test binary. The lab's sweep re-executes its own
//! binary for this (src/hardening/faults/); a user's test binary cannot be
//! re-run on one closure, so the child is a `fork` of the calling thread.
//!
//! The child runs the point as [`super::run_point`] does and `_exit`s
//! with [`RETURNED`] after sending a [`DONE`] record: no atexit handler of
//! the parent runs, no buffer of the parent is flushed. Everything it
//! reports goes through a pipe as records of raw words (`tag, count,
//! words…`), each one `write(2)` under `PIPE_BUF`, so atomic:
//! - the failed allocation's stack, sent by the allocator the moment the
//!   failure fires ([`on_failed_allocation`]), so it arrives however the
//!   child ends (even by `_exit` or a kill);
//! - the stack at a fatal signal (a handler on its own stack), at an
//!   `exit` inside the point (an `atexit` handler registered once in the
//!   parent, live only in a child), or where the child was when the time
//!   limit ran out (a handler for [`TIME_LIMIT_SIGNAL`], sent to the
//!   child's one thread; the child is killed outright if it does not end).
//!
//! The handlers and the allocator hook allocate nothing and take no lock:
//! they walk the stack with the unwinder the allocator uses (libgcc's,
//! which finds objects with glibc's lock-free `_dl_find_object` on glibc
//! 2.35 and later) and write from the stack. The addresses are the
//! parent's own (a fork shares the layout): the parent names them with
//! the symbolizer leak sites use.
//!
//! Fork safety: the interposer's `pthread_atfork` handlers hand the child
//! its side table unlocked, and glibc does the same for its arenas and
//! stdio (C's stdout is flushed before each fork, so an `exit` in the
//! child prints nothing of the parent's twice); the child never records stacks (the recorder's lock may be held
//! by another thread) and never symbolizes. What the closure itself shares
//! with other threads of the test binary (a lock one of them held at the
//! fork) is the closure's: such a child hangs, and is reported as timed
//! out with the stack where it waited.

use std::ffi::c_int;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Once;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering::Relaxed};
use std::time::{Duration, Instant};

use super::fault::PointEnd;
use super::{Frame, loaded_objects, raw_stack_frames};

unsafe extern "C" {
    /// C's standard output stream (glibc exports the variable).
    static stdout: *mut libc::FILE;
}

/// Record tags.
const FAILED: u64 = 1;
const CRASH: u64 = 2;
const EXIT: u64 = 3;
const STUCK: u64 = 4;
const DONE: u64 = 5;

/// Most words of one record (stack frames).
const FRAMES: usize = 64;

/// The child's exit code once the point returned and [`DONE`] was sent.
const RETURNED: c_int = 92;
/// The child's exit code after the time limit's handler ran.
const STOPPED: c_int = 93;

/// Sent to the child's thread when the time limit runs out: its handler
/// sends the stack where the thread was, then ends the child.
const TIME_LIMIT_SIGNAL: c_int = libc::SIGXCPU;
/// How long the child has after [`TIME_LIMIT_SIGNAL`] before it is killed.
const GRACE: Duration = Duration::from_secs(2);

/// The signals that end a process with a crash.
const FATAL: [c_int; 5] = [
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGABRT,
    libc::SIGFPE,
    libc::SIGILL,
];

/// The pipe's write end, in a child (-1 in the parent).
static CHILD_FD: AtomicI32 = AtomicI32::new(-1);
/// The child is inside its point (an `exit` there is the library's).
static IN_POINT: AtomicBool = AtomicBool::new(false);

/// How the child's run of a point ended.
pub(super) enum Ran {
    /// The point returned (or panicked, caught): measure it here.
    Returned {
        /// The armed failure fired.
        fired: bool,
    },
    /// The library crashed, exited or hung.
    Ended {
        end: PointEnd,
        /// The armed failure had fired (its stack arrived) before.
        fired: bool,
    },
}

/// Called by the allocator when an armed failure fires: in a child, sends
/// the failed allocation's stack to the parent at once. Neither allocates
/// nor locks. (Without the interposer, nothing arms a failure.)
#[cfg_attr(not(all(leaklab_interpose, not(miri))), allow(dead_code))]
pub(crate) fn on_failed_allocation(frames: &[usize]) {
    let fd = CHILD_FD.load(Relaxed);
    if fd >= 0 {
        write_record(fd, FAILED, frames);
    }
}

/// One record, `tag count words…`, in one `write(2)` from the stack.
fn write_record(fd: c_int, tag: u64, words: &[usize]) {
    let mut record = [0u64; 2 + FRAMES];
    let n = words.len().min(FRAMES);
    record[0] = tag;
    record[1] = n as u64;
    for (slot, &word) in record[2..].iter_mut().zip(&words[..n]) {
        *slot = word as u64;
    }
    // SAFETY: the first `2 + n` words of `record` are initialized; a
    // failed write loses the record, nothing more.
    unsafe { libc::write(fd, record.as_ptr().cast(), (2 + n) * 8) };
}

/// Sends the calling thread's stack as a `tag` record, in a child.
fn send_stack(tag: u64) {
    let fd = CHILD_FD.load(Relaxed);
    if fd < 0 {
        return;
    }
    let mut frames = [0usize; FRAMES];
    let depth = crate::heap::unwind::trace(&mut frames);
    write_record(fd, tag, &frames[..depth]);
}

extern "C" fn on_fatal_signal(signal: c_int) {
    send_stack(CRASH);
    // SAFETY: raise is async-signal-safe. SA_RESETHAND restored the
    // default action, so the child dies by the same signal, which the
    // parent reads from its status (a fault re-run would do the same; a
    // signal sent with kill would otherwise return into the library).
    unsafe { libc::raise(signal) };
}

extern "C" fn on_time_limit(_signal: c_int) {
    send_stack(STUCK);
    // SAFETY: _exit is async-signal-safe; the parent knows why.
    unsafe { libc::_exit(STOPPED) };
}

extern "C" fn on_exit() {
    if IN_POINT.load(Relaxed) {
        send_stack(EXIT);
    }
}

/// Once per sweep, in the parent, before its first child: the `atexit`
/// handler (once per process; it does nothing outside a child), and one
/// stack walk, so that the unwinder's first-walk set-up is done before any
/// child walks in its allocator or its signal handler.
pub(super) fn prepare() {
    static ATEXIT: Once = Once::new();
    ATEXIT.call_once(|| {
        // SAFETY: `on_exit` is an `extern "C" fn()` that lives as long as
        // the process; it returns at once outside a child.
        unsafe { libc::atexit(on_exit) };
    });
    let mut frames = [0usize; 8];
    crate::heap::unwind::trace(&mut frames);
}

/// Runs point `nth` of `f` in a forked child; kills it after `limit` (and
/// a grace period for its handler to report). Err: the child could not
/// be made or waited for.
pub(super) fn run(nth: u64, f: &mut dyn FnMut(), limit: Duration) -> Result<Ran, String> {
    let mut fds = [0 as c_int; 2];
    // SAFETY: `fds` has room for the two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(format!(
            "cannot make a pipe: {}",
            std::io::Error::last_os_error()
        ));
    }
    let [read_fd, write_fd] = fds;
    // SAFETY: our own descriptor. Read without blocking: the parent polls.
    unsafe { libc::fcntl(read_fd, libc::F_SETFL, libc::O_NONBLOCK) };
    // A library that calls `exit` in the child flushes C stdio there:
    // nothing of the parent's may be pending in C's stdout (the stream a
    // library prints to). Not fflush(NULL): it takes every stream's lock,
    // and one held by a thread blocked reading would hang the sweep.
    // SAFETY: glibc's `stdout`, a valid stream for the process's life.
    unsafe { libc::fflush(stdout) };
    // SAFETY: the child runs `child` alone, which never returns; the
    // interposer's atfork handlers hand it the side table unlocked.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        let error = std::io::Error::last_os_error();
        // SAFETY: our own descriptors, closed once.
        unsafe {
            libc::close(read_fd);
            libc::close(write_fd);
        }
        return Err(format!("fork failed: {error}"));
    }
    if pid == 0 {
        child(nth, f, read_fd, write_fd);
    }
    // SAFETY: the parent's copy of the write end, closed once.
    unsafe { libc::close(write_fd) };
    let waited = wait(pid, read_fd, limit);
    // SAFETY: our own descriptor, closed once.
    unsafe { libc::close(read_fd) };
    let (status, timed_out, bytes) = waited?;
    judge(status, timed_out, limit, &bytes)
}

/// The child: runs the point, reports, `_exit`s. Never returns, never
/// unwinds into the parent's frames.
fn child(nth: u64, f: &mut dyn FnMut(), read_fd: c_int, write_fd: c_int) -> ! {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the child's copy of the read end, closed once.
        unsafe { libc::close(read_fd) };
        CHILD_FD.store(write_fd, Relaxed);
        install_handlers();
        crate::heap::c::clear_failed_allocation();
        IN_POINT.store(true, Relaxed);
        let point = super::run_point(nth, f, |_, _| ());
        IN_POINT.store(false, Relaxed);
        write_record(write_fd, DONE, &[usize::from(point.fired)]);
    }));
    // SAFETY: ends the child at once: no atexit handler, no flush.
    unsafe { libc::_exit(RETURNED) }
}

/// The child's handlers: fatal signals and the time limit's, on a stack
/// of their own (a stack overflow is reported too).
fn install_handlers() {
    super::child::alternate_signal_stack();
    let install = |signal: c_int, handler: extern "C" fn(c_int), flags: c_int| {
        // SAFETY: a zeroed sigaction is a valid start; the handler has the
        // one-argument signature that flags without SA_SIGINFO use; the
        // signal is unblocked for this (the child's only) thread.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = handler as usize;
            action.sa_flags = flags;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, signal);
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        }
    };
    for signal in FATAL {
        install(
            signal,
            on_fatal_signal,
            libc::SA_ONSTACK | libc::SA_RESETHAND | libc::SA_NODEFER,
        );
    }
    install(TIME_LIMIT_SIGNAL, on_time_limit, libc::SA_ONSTACK);
}

/// Reads everything the child sends until it ends; past `limit` sends it
/// [`TIME_LIMIT_SIGNAL`], past the grace period kills it. Its wait
/// status, whether the time limit ran out, and the bytes it sent.
fn wait(
    pid: libc::pid_t,
    read_fd: c_int,
    limit: Duration,
) -> Result<(c_int, bool, Vec<u8>), String> {
    let start = Instant::now();
    let mut bytes = Vec::new();
    let mut signalled: Option<Instant> = None;
    loop {
        let mut pfd = libc::pollfd {
            fd: read_fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let ready = unsafe { libc::poll(&mut pfd, 1, 10) };
        let got = if ready > 0 {
            drain(read_fd, &mut bytes)
        } else {
            0
        };
        let mut status = 0;
        // SAFETY: our own child; `status` is writable.
        let reaped = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if reaped == pid {
            drain(read_fd, &mut bytes);
            return Ok((status, signalled.is_some(), bytes));
        }
        if reaped < 0 {
            let error = std::io::Error::last_os_error();
            if error.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            // SAFETY: our own child, not reaped.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            return Err(format!("cannot wait for the child: {error}"));
        }
        if ready > 0 && got == 0 && pfd.revents & libc::POLLHUP != 0 {
            // Its end of the pipe is closed and it has not ended yet: do
            // not spin on the hang-up.
            std::thread::sleep(Duration::from_micros(200));
        }
        match signalled {
            None if start.elapsed() >= limit => {
                // SAFETY: the child's one thread has the child's pid as
                // its thread id.
                unsafe {
                    libc::syscall(
                        libc::SYS_tgkill,
                        pid,
                        pid,
                        TIME_LIMIT_SIGNAL as libc::c_long,
                    )
                };
                signalled = Some(Instant::now());
            }
            Some(at) if at.elapsed() >= GRACE => {
                // SAFETY: our own child, not reaped yet: killed and reaped.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                    libc::waitpid(pid, &mut status, 0);
                }
                drain(read_fd, &mut bytes);
                return Ok((status, true, bytes));
            }
            _ => {}
        }
    }
}

/// Reads what is in the pipe now; the bytes read.
fn drain(fd: c_int, into: &mut Vec<u8>) -> usize {
    let mut buffer = [0u8; 4096];
    let mut total = 0;
    loop {
        // SAFETY: `buffer` is writable for its length.
        let n = unsafe { libc::read(fd, buffer.as_mut_ptr().cast(), buffer.len()) };
        if n <= 0 {
            return total;
        }
        into.extend_from_slice(&buffer[..n as usize]);
        total += n as usize;
    }
}

/// The records the child sent, in order: (tag, words).
fn records(bytes: &[u8]) -> Vec<(u64, Vec<usize>)> {
    let words: Vec<u64> = bytes
        .chunks_exact(8)
        .map(|w| u64::from_ne_bytes(w.try_into().expect("8 bytes")))
        .collect();
    let mut out = Vec::new();
    let mut rest = &words[..];
    while let [tag, n, tail @ ..] = rest {
        let n = (*n as usize).min(tail.len());
        out.push((*tag, tail[..n].iter().map(|&w| w as usize).collect()));
        rest = &tail[n..];
    }
    out
}

/// What the child's status and records say.
fn judge(status: c_int, timed_out: bool, limit: Duration, bytes: &[u8]) -> Result<Ran, String> {
    let records = records(bytes);
    let last = |tag: u64| {
        records
            .iter()
            .rev()
            .find(|(t, _)| *t == tag)
            .map(|(_, words)| words.as_slice())
    };
    let failed = last(FAILED);
    let fired = failed.is_some();
    let exited = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    if !timed_out && exited == Some(RETURNED) {
        return match last(DONE) {
            Some(done) => Ok(Ran::Returned {
                fired: done.first().is_some_and(|&w| w != 0),
            }),
            None => Err("the child ended without its report".into()),
        };
    }
    let failed_allocation = named(failed.unwrap_or_default());
    let end = if timed_out {
        PointEnd::TimedOut {
            limit,
            failed_allocation,
            stack: named(last(STUCK).unwrap_or_default()),
        }
    } else if libc::WIFSIGNALED(status) {
        PointEnd::Crashed {
            signal: libc::WTERMSIG(status),
            failed_allocation,
            stack: named(last(CRASH).unwrap_or_default()),
        }
    } else {
        PointEnd::Exited {
            status: exited.unwrap_or(-1),
            failed_allocation,
            stack: named(last(EXIT).unwrap_or_default()),
        }
    };
    Ok(Ran::Ended { end, fired })
}

/// A raw stack of the child, named here (the child's addresses are this
/// process's): the allocator's and the handler's frames cut off at the
/// top, the sweep's and the harness's at the bottom.
fn named(stack: &[usize]) -> Vec<Frame> {
    if stack.is_empty() {
        return Vec::new();
    }
    let frames = raw_stack_frames(&loaded_objects(), stack);
    // The handler's own frames, where the signal trampoline was not named.
    let start = frames
        .iter()
        .position(|f| !f.function.contains("check::isolate::"))
        .unwrap_or(frames.len());
    let mut frames: Vec<Frame> = frames[start..]
        .iter()
        .take_while(|f| !super::sites::is_the_check(&f.function))
        .cloned()
        .collect();
    // catch_unwind's frames between the closure and the sweep: below your
    // outermost frame, or else the Rust library's.
    if let Some(last_yours) = frames.iter().rposition(|f| f.yours) {
        frames.truncate(last_yours + 1);
    }
    while frames.last().is_some_and(|f| {
        let name = f.function.trim_start_matches('<');
        !f.yours
            && (["core::", "std::", "alloc::"]
                .iter()
                .any(|p| name.starts_with(p))
                || name.starts_with("__rust_try"))
    }) {
        frames.pop();
    }
    frames
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_read_back_in_order_and_a_cut_one_is_kept_short() {
        let mut bytes = Vec::new();
        for word in [FAILED, 2, 0x10, 0x20, DONE, 1, 1, CRASH, 5, 0x30] {
            bytes.extend_from_slice(&word.to_ne_bytes());
        }
        let read = records(&bytes);
        assert_eq!(
            read,
            vec![
                (FAILED, vec![0x10, 0x20]),
                (DONE, vec![1]),
                (CRASH, vec![0x30]),
            ]
        );
    }
}

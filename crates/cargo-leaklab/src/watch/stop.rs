//! Ending a watch: Ctrl-C (SIGINT) and SIGTERM sent to leaklab are caught,
//! so the watch can stop the program and still print its summary; and a
//! program is stopped politely first, then killed.

use std::process::{Child, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long a program may take to exit after the first signal before it
/// is sent SIGKILL.
pub const GRACE: Duration = Duration::from_secs(1);

/// Set by the signal handler: leaklab was asked to stop.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_signal: libc::c_int) {
    // An atomic store is async-signal-safe.
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Catches SIGINT and SIGTERM from now on: they set a flag that
/// [`interrupted`] reads, instead of killing leaklab.
pub fn catch_interrupts() -> std::io::Result<()> {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction is a valid "no flags, empty mask"
        // value; the handler only stores to an atomic, which is
        // async-signal-safe; the pointers passed are valid for the call.
        let installed = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut())
        };
        if installed != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Whether SIGINT or SIGTERM reached leaklab since [`catch_interrupts`].
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Sends `first` to the program, waits up to [`GRACE`] for it to exit,
/// then sends SIGKILL; returns its status and the signals sent, by name.
pub fn stop(child: &mut Child, first: libc::c_int) -> std::io::Result<(ExitStatus, Vec<String>)> {
    let mut sent = Vec::new();
    if let Some(status) = child.try_wait()? {
        return Ok((status, sent));
    }
    send(child, first);
    sent.push(signal_name(first).to_owned());
    let deadline = Instant::now() + GRACE;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait()? {
            return Ok((status, sent));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    if let Some(status) = child.try_wait()? {
        return Ok((status, sent));
    }
    child.kill()?;
    sent.push(signal_name(libc::SIGKILL).to_owned());
    Ok((child.wait()?, sent))
}

fn send(child: &Child, signal: libc::c_int) {
    let Ok(pid) = libc::pid_t::try_from(child.id()) else {
        return;
    };
    // SAFETY: kill has no memory preconditions; `pid` is our unreaped
    // child, so it cannot name another process.
    unsafe { libc::kill(pid, signal) };
}

/// "SIGSEGV" for 11, and so on; "signal" for one without a name here.
pub fn signal_name(signal: libc::c_int) -> &'static str {
    match signal {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        libc::SIGSYS => "SIGSYS",
        _ => "signal",
    }
}

/// Signals that mean the program crashed rather than was told to stop.
pub fn is_crash(signal: libc::c_int) -> bool {
    matches!(
        signal,
        libc::SIGSEGV
            | libc::SIGBUS
            | libc::SIGILL
            | libc::SIGFPE
            | libc::SIGABRT
            | libc::SIGTRAP
            | libc::SIGSYS
    )
}

//! Ending a watch: Ctrl-C (SIGINT) and SIGTERM sent to leaklab are caught,
//! so the watch can stop the program and still print its summary; and the
//! program's whole tree (every descendant, [`super::tree`]) is stopped
//! politely first, then killed, so nothing it started outlives the watch.

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

/// The processes of the tree and what became of the ones leaklab reaped.
pub struct Tree<'a> {
    /// The program itself.
    pub child: &'a mut Child,
    /// Its status, once reaped.
    pub status: Option<ExitStatus>,
    /// Descendants reparented to leaklab (the subreaper) and reaped by it:
    /// pid and status.
    pub reaped: Vec<(u32, ExitStatus)>,
}

impl Tree<'_> {
    /// Reaps the program if it ended, and every zombie reparented to
    /// leaklab (by pid: never `waitpid(-1)`, which would take the program's
    /// status from `Child`).
    pub fn reap(&mut self) -> std::io::Result<()> {
        self.reap_program()?;
        let me = std::process::id();
        let root = self.child.id();
        for p in super::tree::below(me) {
            if p.ppid != me || p.pid == root || !p.zombie {
                continue;
            }
            let Ok(pid) = libc::pid_t::try_from(p.pid) else {
                continue;
            };
            let mut raw = 0;
            // SAFETY: a child of ours by pid; `raw` is a valid out-param.
            if unsafe { libc::waitpid(pid, &mut raw, libc::WNOHANG) } == pid {
                use std::os::unix::process::ExitStatusExt;
                self.reaped.push((p.pid, ExitStatus::from_raw(raw)));
            }
        }
        Ok(())
    }

    /// Reaps the program if it ended (its descendants are left for
    /// [`Tree::reap`]).
    pub fn reap_program(&mut self) -> std::io::Result<()> {
        if self.status.is_none() {
            self.status = self.child.try_wait()?;
        }
        Ok(())
    }

    /// Live processes of the tree (the program included while it runs).
    pub fn alive(&self) -> Vec<u32> {
        super::tree::below(std::process::id())
            .into_iter()
            .filter(|p| !p.zombie)
            .map(|p| p.pid)
            .collect()
    }

    /// Stops every process of the tree: `first`, up to [`GRACE`] for them to
    /// end, then SIGKILL, sent again to whatever is still (or newly) there
    /// until nothing is. Returns the signals sent, by name (none if nothing
    /// was running).
    pub fn stop(&mut self, first: libc::c_int) -> std::io::Result<Vec<String>> {
        let mut sent = Vec::new();
        self.reap()?;
        let alive = self.alive();
        if alive.is_empty() {
            return Ok(sent);
        }
        alive.iter().for_each(|&pid| send(pid, first));
        sent.push(signal_name(first).to_owned());
        let deadline = Instant::now() + GRACE;
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
            self.reap()?;
            if self.alive().is_empty() {
                return Ok(sent);
            }
        }
        // A process that forks as fast as it is killed gets more rounds;
        // 1000 rounds of 5 ms bound the wait.
        for _ in 0..1000 {
            self.reap()?;
            let alive = self.alive();
            if alive.is_empty() {
                break;
            }
            if sent.last().map(String::as_str) != Some("SIGKILL") {
                sent.push(signal_name(libc::SIGKILL).to_owned());
            }
            alive.iter().for_each(|&pid| send(pid, libc::SIGKILL));
            std::thread::sleep(Duration::from_millis(5));
        }
        if self.status.is_none() {
            self.status = Some(self.child.wait()?);
        }
        self.reap()?;
        Ok(sent)
    }
}

fn send(pid: u32, signal: libc::c_int) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: kill has no memory preconditions. `pid` was found below
    // leaklab a moment ago; one that ended since stays a zombie until its
    // parent reaps it, so only a reap and a wrap of the pid space within
    // those microseconds could make it name another process.
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

//! Helpers for the interposer's stress tests: running a part of a test in a
//! child process (this test binary again, filtered to the test) under a
//! hard deadline, so that a regression that hangs fails the test instead
//! of hanging the run.

#![allow(dead_code)] // each test binary uses the part it needs

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Set in a child to what it should run.
pub const CHILD_ENV: &str = "LEAKLAB_STRESS_CHILD";

/// What this process was started to run, if it is such a child.
pub fn child_role() -> Option<String> {
    std::env::var(CHILD_ENV).ok()
}

/// How a child ended.
pub struct Ended {
    /// None: killed at the deadline (a hang).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub took: Duration,
}

impl Ended {
    pub fn hung(&self) -> bool {
        self.code.is_none()
    }
}

/// Re-runs this test binary on `test` alone with [`CHILD_ENV`] set to
/// `role`; waits at most `deadline`, then kills it (SIGKILL).
pub fn run_child(test: &str, role: &str, deadline: Duration) -> Ended {
    let exe = std::env::current_exe().expect("this test binary's path");
    let start = Instant::now();
    let mut child = Command::new(&exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, role)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot re-run {}: {e}", exe.display()));
    // Read both pipes meanwhile, so a chatty child never blocks on a full one.
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("piped")));
    let err = drain(Box::new(child.stderr.take().expect("piped")));
    let code = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break Some(status.code().unwrap_or(-1));
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Ended {
        code,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        took: start.elapsed(),
    }
}

/// A number from the environment, or `default`.
pub fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The line of `text` that starts with `prefix`, without it.
pub fn line_after<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    text.lines().find_map(|l| l.strip_prefix(prefix))
}

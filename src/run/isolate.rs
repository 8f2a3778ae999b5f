//! The parent side: run one scenario variant in a child process with an
//! address-space cap (RLIMIT_AS; the data segment in a LeakSanitizer
//! build, none under other sanitizers: see [`super::sanitizer`]) and a
//! time limit, and read back its record.
//! A runaway child hits the cap and dies; the parent reports how far it got
//! and carries on.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::measure::{Finish, Plan, RecordLine, Sample};
use super::sanitizer::{self, CapKind};
use crate::check::Site;

/// Limits of one child run.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Address-space cap in bytes (a data cap in a LeakSanitizer build);
    /// 0 for none (valgrind needs its own room).
    pub mem_cap: u64,
    pub time_limit: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            mem_cap: 1 << 30,
            time_limit: Duration::from_secs(120),
        }
    }
}

/// Everything the parent learned from one child.
#[derive(Debug, Clone)]
pub struct ChildRun {
    pub samples: Vec<Sample>,
    pub finish: Option<Finish>,
    /// Where the kept blocks came from, if stacks were asked for and the
    /// run kept memory.
    pub sites: Vec<Site>,
    pub status: Option<ExitStatus>,
    pub timed_out: bool,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

/// Most of a child's output the parent keeps.
const OUTPUT_KEEP: usize = 256 * 1024;

/// The leaklab executable a child runs: `$LEAKLAB_EXE` if set, else this
/// process's own. An integration test's own executable is the test harness,
/// not leaklab, so tests point this at `env!("CARGO_BIN_EXE_leaklab")`.
pub fn leaklab_exe() -> PathBuf {
    match std::env::var_os("LEAKLAB_EXE") {
        Some(exe) if !exe.is_empty() => PathBuf::from(exe),
        // current_exe only fails without /proc; then the one on PATH.
        _ => std::env::current_exe().unwrap_or_else(|_| PathBuf::from("leaklab")),
    }
}

/// What every child is handed besides the environment it inherits: the
/// server this parent started for the MariaDB scenarios, if it did.
pub fn shared_services() -> Vec<(&'static str, PathBuf)> {
    #[cfg(feature = "mariadb")]
    if let Some(socket) = crate::mariadb::server::started_here() {
        return vec![(crate::mariadb::server::SOCKET_VAR, socket)];
    }
    Vec::new()
}

/// Runs `scenario_id` with `plan` in a child, optionally under a wrapper
/// command (valgrind and its flags) that gets the child's command line.
pub fn run_child(
    scenario_id: &str,
    plan: Plan,
    limits: Limits,
    wrapper: &[String],
) -> Result<ChildRun, String> {
    run_child_of(&leaklab_exe(), &[], scenario_id, plan, limits, wrapper)
}

/// [`run_child`] with another leaklab build (LeakSanitizer's instrumented
/// one) and extra environment variables for the child (`LSAN_OPTIONS`).
pub fn run_child_of(
    exe: &std::path::Path,
    env: &[(&str, &str)],
    scenario_id: &str,
    plan: Plan,
    limits: Limits,
    wrapper: &[String],
) -> Result<ChildRun, String> {
    // Created here, exclusively, under an unpredictable name; removed when
    // `record` drops. The child only opens it.
    let record = record_file()?;
    let mut args: Vec<String> = wrapper.to_vec();
    args.push(exe.display().to_string());
    args.extend([
        "__child".into(),
        scenario_id.into(),
        plan.variant.as_str().into(),
        plan.backend.as_str().into(),
        plan.iterations.to_string(),
        plan.sample_every.to_string(),
        record.path().display().to_string(),
    ]);
    if plan.stacks {
        args.push("--stacks".into());
    }
    let mut command = Command::new(&args[0]);
    command
        .args(&args[1..])
        .envs(shared_services())
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // How the cap is applied depends on this build (src/run/sanitizer.rs):
    // the address space normally, the data segment in a LeakSanitizer
    // build (whose allocator reserves terabytes of address space), not at
    // all under other sanitizers.
    let resource = match sanitizer::cap_kind() {
        _ if limits.mem_cap == 0 => None,
        CapKind::AddressSpace => Some(libc::RLIMIT_AS),
        CapKind::Data => {
            command.env("LSAN_OPTIONS", capped_lsan_options(env));
            Some(libc::RLIMIT_DATA)
        }
        CapKind::None => None,
    };
    if let Some(resource) = resource {
        let cap = limits.mem_cap;
        // SAFETY: the closure runs between fork and exec and only calls
        // setrlimit, which is async-signal-safe, on a stack value.
        unsafe {
            command.pre_exec(move || {
                let limit = libc::rlimit {
                    rlim_cur: cap,
                    rlim_max: cap,
                };
                if libc::setrlimit(resource, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let started = Instant::now();
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", args[0]))?;
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() > limits.time_limit => {
                timed_out = true;
                let _ = child.kill();
                break child.wait().ok();
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("waiting for the child failed: {e}")),
        }
    };
    let elapsed = started.elapsed();
    let text = std::fs::read_to_string(record.path()).unwrap_or_default();
    drop(record);
    let mut samples = Vec::new();
    let mut finish = None;
    let mut sites = Vec::new();
    for line in text.lines() {
        match serde_json::from_str::<RecordLine>(line) {
            Ok(RecordLine::Sample(s)) => samples.push(s),
            Ok(RecordLine::Finish(f)) => finish = Some(f),
            Ok(RecordLine::Sites { sites: s }) => sites = s,
            Err(_) => {} // a line cut short by a kill
        }
    }
    Ok(ChildRun {
        samples,
        finish,
        sites,
        status,
        timed_out,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
        elapsed,
    })
}

/// The child's `LSAN_OPTIONS` under a data cap: the ones it is given (or
/// this process's own), then [`sanitizer::LSAN_CAP_OPTION`], which must
/// win.
fn capped_lsan_options(env: &[(&str, &str)]) -> String {
    let given = env
        .iter()
        .rev()
        .find(|(name, _)| *name == "LSAN_OPTIONS")
        .map(|(_, value)| (*value).to_owned())
        .or_else(|| std::env::var("LSAN_OPTIONS").ok())
        .unwrap_or_default();
    let given = given.trim_matches(':');
    if given.is_empty() {
        sanitizer::LSAN_CAP_OPTION.to_owned()
    } else {
        format!("{given}:{}", sanitizer::LSAN_CAP_OPTION)
    }
}

/// Reads a pipe to its end on a thread (so a chatty child cannot block on a
/// full pipe), keeping the first `OUTPUT_KEEP` bytes.
fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let Some(mut pipe) = pipe else {
            return String::new();
        };
        let mut kept = Vec::new();
        let mut buf = [0u8; 8192];
        while let Ok(n) = pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            let room = OUTPUT_KEEP.saturating_sub(kept.len());
            kept.extend_from_slice(&buf[..n.min(room)]);
        }
        String::from_utf8_lossy(&kept).into_owned()
    })
}

/// The file a child writes its record to: created with O_EXCL and a
/// random name under the temporary directory (mode 0600), so no other
/// user can predict, pre-create or swap it.
fn record_file() -> Result<tempfile::NamedTempFile, String> {
    tempfile::Builder::new()
        .prefix("leaklab-")
        .suffix(".jsonl")
        .tempfile()
        .map_err(|e| {
            format!(
                "cannot create a record file in {}: {e}",
                std::env::temp_dir().display()
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_lsan_cap_option_comes_last() {
        let given = [("LSAN_OPTIONS", "exitcode=23:allocator_may_return_null=0")];
        assert_eq!(
            capped_lsan_options(&given),
            "exitcode=23:allocator_may_return_null=0:allocator_may_return_null=1"
        );
    }

    #[test]
    fn record_files_are_new_private_and_unpredictable() {
        let a = record_file().expect("a record file");
        let b = record_file().expect("another");
        assert_ne!(a.path(), b.path());
        for file in [&a, &b] {
            let name = file.path().file_name().unwrap().to_string_lossy();
            assert!(
                name.starts_with("leaklab-") && name.ends_with(".jsonl"),
                "{name}"
            );
            // Not the old "leaklab-<pid>-<n>" name.
            let pid = std::process::id().to_string();
            assert!(!name.contains(&pid), "{name}");
            let mode = std::fs::metadata(file.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{name}: {mode:o}");
        }
        let path = a.path().to_path_buf();
        drop(a);
        assert!(!path.exists(), "removed on drop");
    }
}

//! The watched program's process tree: every process below leaklab, found
//! in `/proc` by parent pid. leaklab makes itself a child subreaper, so a
//! process whose parent exits (a daemon's double fork, a server's worker
//! left behind) is reparented to it rather than to init, and stays in the
//! tree, to be sampled and, at the end, stopped.

use std::collections::HashMap;

/// One process of the tree, as `/proc/<pid>/stat` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proc {
    pub pid: u32,
    pub ppid: u32,
    /// Exited, not yet reaped: no memory to sample, nothing to stop.
    pub zombie: bool,
}

/// Makes this process the subreaper of its descendants (Linux 3.4+); false
/// if the kernel refused.
pub fn become_subreaper() -> bool {
    // SAFETY: prctl with integer arguments only.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0 }
}

/// The watched program's pid, once started ([`set_root`]).
static ROOT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// Names the watched program, which is never one of leaklab's helpers.
pub fn set_root(pid: u32) {
    ROOT.store(pid, std::sync::atomic::Ordering::Relaxed);
}

/// Whether child `pid` of this process is one of leaklab's own helpers:
/// the symbolizer's servers (leaklab's own `__addr2line`, or the tool
/// `LEAKLAB_ADDR2LINE` names), which `--every` starts while the program
/// runs. They are no process of the program's: not sampled, not stopped.
fn is_own_helper(pid: u32) -> bool {
    if pid == ROOT.load(std::sync::atomic::Ordering::Relaxed) {
        return false;
    }
    let (tool, _) = leaklab::check::symbol_tool();
    let name = std::path::Path::new(&tool)
        .file_name()
        .map_or(tool.clone(), |n| n.to_string_lossy().into_owned());
    // The kernel keeps the first 15 bytes of the name.
    let short = name.get(..name.len().min(15)).unwrap_or(&name);
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .is_ok_and(|comm| !short.is_empty() && comm.trim_end_matches('\n') == short)
}

/// Every process below `ancestor` (not itself), parents before children;
/// below this process, leaving out its own helpers. Found from each
/// process's `children` files where the kernel has them (a few reads for a
/// small tree), else by reading every process's `stat`.
pub fn below(ancestor: u32) -> Vec<Proc> {
    if has_children_files() {
        below_by_children(ancestor)
    } else {
        below_by_scan(ancestor)
    }
}

/// Whether `/proc/<pid>/task/<tid>/children` exists (Linux 3.5+, built
/// with CONFIG_PROC_CHILDREN).
fn has_children_files() -> bool {
    static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HAS.get_or_init(|| {
        let me = std::process::id();
        std::path::Path::new(&format!("/proc/{me}/task/{me}/children")).exists()
    })
}

/// Process `pid`'s stat, if it still exists.
fn stat_of(pid: u32) -> Option<Proc> {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| parse_stat(&s))
}

/// The children of every thread of `pid` (none if it is gone).
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for task in tasks.flatten() {
        if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
            out.extend(
                text.split_whitespace()
                    .filter_map(|w| w.parse::<u32>().ok()),
            );
        }
    }
    out
}

fn below_by_children(ancestor: u32) -> Vec<Proc> {
    let own = ancestor == std::process::id();
    let mut out = Vec::new();
    let mut queue = vec![ancestor];
    while let Some(parent) = queue.pop() {
        for pid in children_of(parent) {
            if own && parent == ancestor && is_own_helper(pid) {
                continue;
            }
            // Ended since, or its pid reused by another's: not below.
            let Some(p) = stat_of(pid).filter(|p| p.ppid == parent) else {
                continue;
            };
            queue.push(pid);
            out.push(p);
        }
    }
    out
}

fn below_by_scan(ancestor: u32) -> Vec<Proc> {
    let own = ancestor == std::process::id();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut children: HashMap<u32, Vec<Proc>> = HashMap::new();
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        // A process that ended since the listing has no stat: skipped.
        if let Some(p) = stat_of(pid) {
            children.entry(p.ppid).or_default().push(p);
        }
    }
    let mut out = Vec::new();
    let mut queue = vec![ancestor];
    while let Some(parent) = queue.pop() {
        for p in children.remove(&parent).unwrap_or_default() {
            if own && parent == ancestor && is_own_helper(p.pid) {
                continue;
            }
            queue.push(p.pid);
            out.push(p);
        }
    }
    out
}

/// Pid, state and parent pid of a `/proc/<pid>/stat` line. The command
/// name (in parentheses) may hold spaces and parentheses: the fields are
/// read after its last `)`.
pub fn parse_stat(stat: &str) -> Option<Proc> {
    let (head, tail) = stat.rsplit_once(')')?;
    let pid = head.split_once(" (")?.0.trim().parse().ok()?;
    let mut fields = tail.split_whitespace();
    let state = fields.next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some(Proc {
        pid,
        ppid,
        zombie: state == "Z" || state == "X",
    })
}

/// Process `pid`'s command line, its arguments joined by spaces (its
/// command name for a kernel thread or one that cleared it); None if gone.
pub fn command_of(pid: u32) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let words: Vec<String> = raw
        .split(|&b| b == 0)
        .filter(|w| !w.is_empty())
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect();
    if words.is_empty() {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
        return Some(format!("[{}]", comm.trim_end()));
    }
    Some(words.join(" "))
}

/// The kernel's count of processes its OOM killer killed (`oom_kill` in
/// `/proc/vmstat`, Linux 4.13+).
pub fn oom_kills() -> Option<u64> {
    let vmstat = std::fs::read_to_string("/proc/vmstat").ok()?;
    vmstat
        .lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .and_then(|n| n.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_odd_command_names_parse() {
        assert_eq!(
            parse_stat("42 (a) b (c)) S 7 42 42 0 -1 4194560 ..."),
            Some(Proc {
                pid: 42,
                ppid: 7,
                zombie: false
            })
        );
        assert!(parse_stat("9 (python3) Z 8 9 9").unwrap().zombie);
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn a_child_of_this_process_is_below_it() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let me = std::process::id();
        let found = below(me)
            .iter()
            .any(|p| p.pid == child.id() && p.ppid == me);
        let by_scan = below_by_scan(me)
            .iter()
            .any(|p| p.pid == child.id() && p.ppid == me);
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(found);
        assert!(by_scan);
        assert!(command_of(me).is_some());
    }

    #[test]
    fn a_grandchild_is_below_its_grandparent_by_either_walk() {
        // sh starts sleep and waits for it: a grandchild of this process.
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 5; true"])
            .spawn()
            .unwrap();
        let me = std::process::id();
        let sh = child.id();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let mut found = (false, false);
        while std::time::Instant::now() < deadline && found != (true, true) {
            let grandchild = |procs: Vec<Proc>| procs.iter().any(|p| p.ppid == sh);
            found = (
                grandchild(below_by_children(me)),
                grandchild(below_by_scan(me)),
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(found, (true, true));
    }
}

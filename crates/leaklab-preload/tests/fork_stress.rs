//! The preload shim under fork(): a program with the shim in `LD_PRELOAD`
//! forks again and again while three of its threads allocate; no child may
//! hang (before the interposer's fork handlers, 138 of 200 did).
//!
//! The program is this test binary itself, run again with the shim
//! preloaded: it does not link `leaklab`, so its `malloc` is the shim's
//! (checked with `dladdr`). Three ways, as the shim runs: with no watcher
//! page; publishing every millisecond to a page (`leaklab watch`: the
//! publisher thread, kept out of the table across a fork by the shim's own
//! handler); and counting for the scan at exit (`cargo leaklab test`: freed
//! memory scrubbed, a publisher-less page).
//!
//! Rounds and deadline per child: `LEAKLAB_FORK_ROUNDS` (200),
//! `LEAKLAB_FORK_DEADLINE_MS` (10,000). The preloaded program itself runs
//! under a deadline too (a fork that hangs in the parent, as a deadlock
//! between fork handlers would, is killed and reported).

mod support;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use support::{
    ALLOCATIONS_AT, EXITED_AT, env_number, malloc_comes_from, page, read_u64, run_with_deadline,
    shim,
};

const TEST: &str = "fork_while_threads_allocate_under_the_shim_never_hangs";
/// Set in the preloaded run: which way the shim runs.
const ROLE: &str = "LEAKLAB_SHIM_FORK_STRESS";
const RESULT: &str = "shim fork stress: ";

fn allocate_until(stop: &AtomicBool, calls: &AtomicU64) {
    const SIZES: [usize; 4] = [16, 40, 200, 1500];
    let mut i = 0usize;
    while !stop.load(Relaxed) {
        let size = SIZES[i % SIZES.len()];
        // SAFETY: plain C allocations, each freed once, written in bounds.
        unsafe {
            let p = libc::malloc(size).cast::<u8>();
            assert!(!p.is_null());
            p.write(1);
            libc::free(p.cast());
            if i.is_multiple_of(64) {
                let q = libc::calloc(2, size);
                let r = libc::realloc(libc::malloc(200_000), 300_000);
                assert!(!q.is_null() && !r.is_null());
                libc::free(q);
                libc::free(r);
                std::hint::black_box(vec![0u8; size]);
            }
        }
        calls.fetch_add(1, Relaxed);
        i = i.wrapping_add(1);
    }
}

/// The child: allocate and free through the shim, then exit.
fn child() -> ! {
    // SAFETY: plain C allocations, each freed once; then an exit that runs
    // none of the parent's handlers.
    unsafe {
        let p = libc::malloc(100);
        let q = libc::calloc(10, 10);
        let p = libc::realloc(p, 1000);
        let ok = !p.is_null() && !q.is_null();
        libc::free(p);
        libc::free(q);
        libc::_exit(if ok { 0 } else { 1 })
    }
}

fn wait_with_deadline(pid: libc::pid_t, deadline: Duration) -> Option<libc::c_int> {
    let start = Instant::now();
    let mut status = 0;
    loop {
        // SAFETY: our own child; `status` is writable.
        let reaped = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if reaped == pid {
            return Some(status);
        }
        assert_eq!(reaped, 0, "waitpid failed");
        if start.elapsed() > deadline {
            // SAFETY: our own child, not reaped yet.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            return None;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// The preloaded program's work: returns "rounds hangs failed".
fn stress() -> String {
    let rounds = env_number("LEAKLAB_FORK_ROUNDS", 200);
    let deadline = Duration::from_millis(env_number("LEAKLAB_FORK_DEADLINE_MS", 10_000));
    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..3)
        .map(|_| {
            let (stop, calls) = (stop.clone(), calls.clone());
            std::thread::spawn(move || allocate_until(&stop, &calls))
        })
        .collect();
    while calls.load(Relaxed) < 3000 {
        std::thread::yield_now();
    }
    let (mut hangs, mut failed) = (0u64, 0u64);
    for _ in 0..rounds {
        // SAFETY: the child runs `child` only, which never returns.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            child();
        }
        match wait_with_deadline(pid, deadline) {
            None => hangs += 1,
            Some(status) if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 => {}
            Some(_) => failed += 1,
        }
    }
    stop.store(true, Relaxed);
    for t in threads {
        t.join().expect("an allocating thread");
    }
    format!("{rounds} {hangs} {failed}")
}

#[test]
fn fork_while_threads_allocate_under_the_shim_never_hangs() {
    if let Ok(role) = std::env::var(ROLE) {
        let from = malloc_comes_from();
        assert!(
            from.contains("libleaklab_preload"),
            "{role}: malloc comes from {from}, not the shim"
        );
        println!("\n{RESULT}{}", stress());
        return;
    }
    let shim = shim();
    let exe = std::env::current_exe().expect("this test binary's path");
    let mut problems = Vec::new();
    for (way, publish_ns) in [
        ("no watcher", None),
        ("watch", Some(1_000_000)),
        ("watch with sites", Some(1_000_000)),
        ("at exit", Some(0)),
    ] {
        let page = publish_ns.map(page);
        // Sites: every allocation's stack walked (the unwinder inside the
        // allocator while other threads fork), each child a file of its own.
        let sites = (way == "watch with sites").then(|| {
            let dir =
                std::env::temp_dir().join(format!("leaklab-fork-sites-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir(&dir).expect("a directory for the site files");
            dir
        });
        let mut command = Command::new(&exe);
        command
            .args([TEST, "--exact", "--nocapture", "--test-threads=1"])
            .env(ROLE, way)
            .env("LD_PRELOAD", &shim)
            .env_remove("LEAKLAB_WATCH_HEAP")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some((_, path)) = &page {
            command.env("LEAKLAB_WATCH_HEAP", path);
        }
        command
            .env_remove("LEAKLAB_WATCH_SITES")
            .env_remove("LEAKLAB_WATCH_SITES_SAMPLE");
        if let Some(dir) = &sites {
            command
                .env("LEAKLAB_WATCH_SITES", dir)
                .env("LEAKLAB_WATCH_SITES_SAMPLE", "0");
        }
        let rounds = env_number("LEAKLAB_FORK_ROUNDS", 200);
        let per_child = env_number("LEAKLAB_FORK_DEADLINE_MS", 10_000);
        let deadline = Duration::from_millis(60_000 + rounds * per_child);
        let (status, stdout, stderr) = run_with_deadline(command, deadline);
        let Some(result) = stdout.lines().find_map(|l| l.strip_prefix(RESULT)) else {
            problems.push(format!("{way}: no result ({status}):\n{stdout}\n{stderr}"));
            continue;
        };
        let n: Vec<u64> = result
            .split(' ')
            .map(|x| x.parse().expect("a number"))
            .collect();
        eprintln!(
            "shim fork stress, {way}: {} rounds, {} hangs, {} failed children",
            n[0], n[1], n[2]
        );
        if n[1] != 0 || n[2] != 0 {
            problems.push(format!(
                "{way}: {} hangs, {} failed children in {} rounds",
                n[1], n[2], n[0]
            ));
        }
        if let Some(dir) = &sites {
            // The program's file and one per child that forked.
            let files = std::fs::read_dir(dir).map_or(0, |d| d.count() as u64);
            if files < n[0] {
                problems.push(format!("{way}: {files} site files for {} children", n[0]));
            }
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some((_, path)) = &page {
            // The shim claimed the page and published its counts at exit.
            if read_u64(path, EXITED_AT) != 1 || read_u64(path, ALLOCATIONS_AT) == 0 {
                problems.push(format!("{way}: the shim did not publish at exit"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

//! The shim's scan at exit reads the exiting thread's live frames: a
//! program that ends in `std::process::exit(0)` while a `Vec` and a `Box`
//! are live on main's stack (no destructor runs, memcheck calls both
//! still reachable) loses nothing, and the same program with the two
//! pointers dropped before the exit loses exactly those two blocks.
//!
//! Regression: the first shape was 2 blocks / 364 B lost. The scan reads
//! the calling thread's stack from a marker in its own frame upwards, and
//! the marker was a `u8`, 7 bytes past a word boundary: every word above
//! it (the exit path's frames, then main's) was read across two slots, so
//! no pointer kept on that stack was seen.
//!
//! `harness = false`: the shapes run on the main thread, alone at exit, as
//! a `harness = false` test target or a program's binary does (libtest
//! would run them on a thread of its own). The program is this binary
//! itself, run again with the shim preloaded.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use support::{
    EXITED_AT, LOST_BLOCKS_AT, LOST_BYTES_AT, malloc_comes_from, page, read_u64, run_with_deadline,
    shim,
};

/// Set in the preloaded run: which shape it runs.
const ROLE: &str = "LEAKLAB_SHIM_EXIT_ROLE";

/// Overwrites the stack below the caller, where stale copies of a
/// dropped pointer could lie.
#[inline(never)]
fn clear_stack() {
    std::hint::black_box([0u8; 16 * 1024]);
}

/// A `Vec` of 300 bytes and a `Box` of 64, kept: their blocks.
#[inline(never)]
fn make() -> (Vec<u8>, Box<[u64; 8]>) {
    (vec![7u8; 300], Box::new([1u64; 8]))
}

/// Ends the process with the two blocks live on main's stack.
fn exit_holding() -> ! {
    let (v, b) = make();
    std::hint::black_box((&v, &b));
    clear_stack();
    std::process::exit(0)
}

/// Drops the two pointers (never freed), then ends the process.
fn exit_having_lost() -> ! {
    #[inline(never)]
    fn lose() {
        let (v, b) = make();
        std::hint::black_box((v.leak().as_ptr(), Box::into_raw(b)));
    }
    lose();
    clear_stack();
    std::process::exit(0)
}

fn main() {
    if let Ok(role) = std::env::var(ROLE) {
        let from = malloc_comes_from();
        assert!(
            from.contains("libleaklab_preload"),
            "{role}: malloc comes from {from}, not the shim"
        );
        match role.as_str() {
            "holding" => exit_holding(),
            "having lost" => exit_having_lost(),
            other => panic!("no shape {other}"),
        }
    }
    let shim = shim();
    let exe = std::env::current_exe().expect("this test binary's path");
    let mut problems = Vec::new();
    for (role, lost) in [("holding", (0, 0)), ("having lost", (2, 364))] {
        // Counts at exit only, with the scan: `cargo leaklab test`'s page.
        let (_file, path) = page(0);
        let mut command = Command::new(&exe);
        command
            .env(ROLE, role)
            .env("LD_PRELOAD", &shim)
            .env("LEAKLAB_WATCH_HEAP", &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let (status, stdout, stderr) = run_with_deadline(command, Duration::from_secs(120));
        if status != "exit status: 0" || read_u64(&path, EXITED_AT) != 1 {
            problems.push(format!(
                "{role}: {status}, no counts at exit?\n{stdout}\n{stderr}"
            ));
            continue;
        }
        let found = (
            read_u64(&path, LOST_BLOCKS_AT),
            read_u64(&path, LOST_BYTES_AT),
        );
        eprintln!("scan at exit, {role}: lost {} blk / {} B", found.0, found.1);
        if found != lost {
            problems.push(format!(
                "{role}: lost {} blk / {} B at exit, expected {} blk / {} B",
                found.0, found.1, lost.0, lost.1
            ));
        }
    }
    if !problems.is_empty() {
        eprintln!("{}", problems.join("\n"));
        std::process::exit(1);
    }
    println!("exit_with_live_locals: ok");
}

//! The two runs against the source's, line by line, and what the lab's
//! counters see of the collected run: the cycles' memory held until the
//! collector runs, and all of it freed then.

use std::process::Command;

use best_friends::{FINISHED, goodbye};

#[global_allocator]
static ALLOC: leaklab::Counting = leaklab::Counting::system();

fn run(which: &str) -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_best-friends"))
        .arg(which)
        .output()
        .expect("best-friends runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("UTF-8")
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_collected_run_prints_as_the_sources_leaky_run() {
    let lines = run("collected");
    // The source: 0, 1, 2, the finished line, then the six messages.
    assert_eq!(lines[..4], ["0", "1", "2", FINISHED], "{lines:#?}");
    let mut drops = lines[4..].to_vec();
    drops.sort();
    let mut want: Vec<String> = (0..3)
        .flat_map(|_| [goodbye("Alice"), goodbye("Bob")])
        .collect();
    want.sort();
    assert_eq!(drops, want, "{lines:#?}");
}

#[test]
fn the_weak_run_prints_as_the_sources_fixed_run() {
    let lines = run("weak");
    // Each pair goes as its iteration ends: Alice (no strong reference
    // left), then Bob (held only by Alice).
    let mut want = Vec::new();
    for i in 0..3 {
        want.extend([i.to_string(), goodbye("Alice"), goodbye("Bob")]);
    }
    want.push(FINISHED.to_owned());
    assert_eq!(lines, want);
}

#[leaklab::test]
fn the_counters_see_the_cycles_held_until_collected_and_freed_then() {
    use leaklab::check::{Side, thread_live};
    best_friends::collect_only_when_told();
    // The collector's own bookkeeping (its table of candidates,
    // grown to three pairs' worth) made once, before counting.
    for _ in 0..3 {
        best_friends::make_collected_pair();
    }
    best_friends::collect_now();
    let before = thread_live(Side::Rust);
    for _ in 0..3 {
        best_friends::make_collected_pair();
    }
    let held = thread_live(Side::Rust);
    // Per pair at least two collected boxes and two names.
    assert!(
        held.blocks - before.blocks >= 3 * 4,
        "{before:?} -> {held:?}"
    );
    best_friends::collect_now();
    assert_eq!(
        thread_live(Side::Rust),
        before,
        "all of it freed by the collector"
    );

    for _ in 0..3 {
        best_friends::make_weak_pair();
    }
    assert_eq!(
        thread_live(Side::Rust),
        before,
        "the weak pairs never outlive their iteration"
    );
}

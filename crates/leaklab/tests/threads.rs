//! Threads the measured closure spawns and joins: what they allocate and
//! free is counted with the closure, so a spawn and a join keep nothing.

use leaklab::check::{self, Side};

#[global_allocator]
static ALLOC: leaklab::Counting = leaklab::Counting::system();

#[leaklab::test]
fn spawn_and_join_inside_measure_keeps_nothing() {
    check::measure(20, || {
        let sum = std::thread::spawn(|| (0..100u64).sum::<u64>())
            .join()
            .expect("the thread ran");
        assert_eq!(sum, 4950);
    })
    .expect("counted")
    .assert_clean();
}

#[leaklab::test]
fn a_block_a_spawned_thread_leaks_is_counted_with_the_closure() {
    let m = check::measure(10, || {
        std::thread::spawn(|| {
            // SAFETY: a plain allocation, deliberately never freed.
            let p = unsafe { libc::malloc(40) };
            assert!(!p.is_null());
        })
        .join()
        .expect("the thread ran");
    })
    .expect("counted");
    m.assert_leaks(Side::C, 1, 40);
}

#[leaklab::test]
fn a_block_handed_to_a_thread_that_frees_it_is_not_kept() {
    check::measure(10, || {
        let v = vec![7u8; 100];
        std::thread::spawn(move || drop(v))
            .join()
            .expect("the thread ran");
    })
    .expect("counted")
    .assert_clean();
}

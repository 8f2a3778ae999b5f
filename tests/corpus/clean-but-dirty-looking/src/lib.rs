//! Code that loses nothing but looks as if it might. Every test here is
//! clean (no block lost on either side) except for `aborts`, which is
//! clean too but ends on SIGABRT. The truth is in ../expected.tsv.
//!
//! tokio's runtimes are left out (a dependency tree of its own to build
//! in CI); `pool_parked_at_exit` is their shape in std: worker threads
//! still blocked, holding their state, when the process exits.

use std::collections::HashMap;
use std::sync::{LazyLock, OnceLock};

pub static TABLE: OnceLock<Vec<u64>> = OnceLock::new();
pub static NAMES: LazyLock<HashMap<String, usize>> =
    LazyLock::new(|| (0..20).map(|i| (format!("name-{i}"), i)).collect());

#[cfg(test)]
// A heap block is what these tests are about, not an array on the stack.
#[allow(clippy::useless_vec)]
mod tests {
    use super::*;
    use std::hint::black_box;
    use std::sync::mpsc;
    use std::sync::{Arc, Mutex};
    use std::thread;
    use std::time::Duration;

    /// Threads that allocate, spawned and joined.
    #[test]
    fn spawn_join() {
        let handles: Vec<_> = (0..4)
            .map(|i| thread::spawn(move || vec![i as u8; 1000].len()))
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), 1000);
        }
    }

    /// `thread::scope`: borrowed data, threads joined by the scope.
    #[test]
    fn scoped_threads() {
        let data = vec![1u32; 500];
        let sum: u32 = thread::scope(|s| {
            let a = s.spawn(|| data[..250].iter().sum::<u32>());
            let b = s.spawn(|| data[250..].iter().sum::<u32>());
            a.join().unwrap() + b.join().unwrap()
        });
        assert_eq!(sum, 500);
    }

    /// A detached thread still running (asleep, its Vec on its stack) when
    /// the test returns and the process exits: still reachable.
    #[test]
    fn thread_running_at_exit() {
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let v = vec![5u8; 256];
            tx.send(()).unwrap();
            loop {
                black_box(&v);
                thread::sleep(Duration::from_secs(60));
            }
        });
        rx.recv().unwrap();
    }

    /// A pool of two workers blocked on a shared receiver at exit (the
    /// shape of an async runtime left running): still reachable.
    #[test]
    fn pool_parked_at_exit() {
        let (tx, rx) = mpsc::channel::<Box<dyn FnOnce() + Send>>();
        let rx = Arc::new(Mutex::new(rx));
        let (done_tx, done_rx) = mpsc::channel();
        for _ in 0..2 {
            let rx = Arc::clone(&rx);
            thread::spawn(move || {
                loop {
                    let job = rx.lock().unwrap().recv();
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                }
            });
        }
        for i in 0..4 {
            let done = done_tx.clone();
            tx.send(Box::new(move || done.send(i).unwrap())).unwrap();
        }
        let mut got: Vec<i32> = (0..4).map(|_| done_rx.recv().unwrap()).collect();
        got.sort();
        assert_eq!(got, [0, 1, 2, 3]);
        // The sender stays alive: the workers stay blocked.
        std::mem::forget(tx);
    }

    /// A test that panics as it should: the panic's payload and message
    /// are freed by the unwinding.
    #[test]
    #[should_panic(expected = "on purpose")]
    fn should_panic() {
        let v = vec![1u8; 64];
        panic!("on purpose, {} bytes", v.len());
    }

    /// A panic caught by catch_unwind.
    #[test]
    fn catch_unwind() {
        let r = std::panic::catch_unwind(|| {
            let _v = vec![1u8; 64];
            panic!("{}", String::from("caught"));
        });
        assert!(r.is_err());
    }

    /// A `OnceLock` static initialised: still reachable.
    #[test]
    fn oncelock_static() {
        let t = TABLE.get_or_init(|| (0..100).collect());
        assert_eq!(t.len(), 100);
    }

    /// A `LazyLock` static of a HashMap of Strings: still reachable.
    #[test]
    fn lazylock_static() {
        assert_eq!(NAMES["name-7"], 7);
    }

    /// `std::env::set_var`: glibc's environment grows (reachable).
    #[test]
    fn set_var() {
        // SAFETY: no other thread of this process reads the environment.
        unsafe { std::env::set_var("LEAKLAB_CORPUS_VAR", "x".repeat(100)) };
        assert_eq!(std::env::var("LEAKLAB_CORPUS_VAR").unwrap().len(), 100);
    }

    /// Plenty printed: stdout's buffer stays allocated (reachable).
    #[test]
    fn prints_a_lot() {
        for i in 0..200 {
            println!("line {i}: {}", "-".repeat(i));
        }
    }

    /// `process::abort` with a live Vec: the process ends on SIGABRT (the
    /// test fails), nothing is lost (the Vec is still on the stack).
    #[test]
    fn aborts() {
        let v = vec![3u8; 128];
        black_box(&v);
        std::process::abort();
    }
}

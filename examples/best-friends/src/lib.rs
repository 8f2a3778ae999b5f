//! The second source's best friends, run the way Python ran them.
//!
//! The source created two persons who are each other's best friend, three
//! times, in a function; each person's `__del__` printed a message. Its
//! leaky run printed `0`, `1`, `2`, the "finished" line, and only then the
//! six messages: CPython frees a cycle only when its cycle collector runs
//! (here, at exit). Its fixed run made the back reference a `weakref`, and
//! each pair's two messages came right after its iteration.
//!
//! In Rust, a cycle of `Rc`s is never freed at all (the lab's `rc-cycle`
//! scenario). To show the source's run, the persons of [`Run::Collected`]
//! live in [`dumpster::unsync::Gc`], a reference count with a cycle
//! collector: the run keeps the collector from running on its own (as
//! CPython's thresholds would not fire for six objects) and runs it after
//! the "finished" line, where CPython ran it at exit. [`Run::Weak`] is the
//! source's fix with `Rc` and `Weak`.
//!
//! ```
//! let mut out = Vec::new();
//! best_friends::run(best_friends::Run::Weak, 1, &mut out).unwrap();
//! // The drop messages went to stdout as the pair was freed.
//! assert_eq!(String::from_utf8(out).unwrap(), format!("0\n{}\n", best_friends::FINISHED));
//! ```

use std::cell::RefCell;
use std::io::{self, Write};
use std::rc::{Rc, Weak};

use dumpster::Trace;
use dumpster::unsync::{CollectInfo, Gc, collect, set_collect_condition};

/// Which of the source's two runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Run {
    /// The leaky run: a strong cycle, freed when the collector runs.
    Collected,
    /// The fixed run: the back reference is weak.
    Weak,
}

/// The line the source printed when its loop was done.
pub const FINISHED: &str = "mem_leak finished.";

/// The message a person prints when freed (the source's `__del__`).
pub fn goodbye(name: &str) -> String {
    format!("{name} is being dropped")
}

/// A person of the collected run: its best friend is a collected pointer.
#[derive(Trace)]
pub struct GcPerson {
    name: String,
    best_friend: RefCell<Option<Gc<GcPerson>>>,
}

impl Drop for GcPerson {
    fn drop(&mut self) {
        say_goodbye(&self.name);
    }
}

/// Prints [`goodbye`] on stdout; a closed stdout is no reason to panic
/// inside a destructor.
fn say_goodbye(name: &str) {
    let _ = writeln!(io::stdout(), "{}", goodbye(name));
}

/// A person of the weak run.
pub struct RcPerson {
    name: String,
    best_friend: RefCell<Option<Friend>>,
}

/// The weak run's friend: Alice holds Bob strongly, Bob holds Alice weakly.
pub enum Friend {
    Strong(Rc<RcPerson>),
    Weak(Weak<RcPerson>),
}

impl Drop for RcPerson {
    fn drop(&mut self) {
        say_goodbye(&self.name);
    }
}

/// The collector runs only when [`collect`] is called.
fn never(_: &CollectInfo) -> bool {
    false
}

/// The source's `mem_leak()`: a pair of best friends, made and let go.
pub fn make_collected_pair() {
    let alice = Gc::new(GcPerson {
        name: "Alice".into(),
        best_friend: RefCell::new(None),
    });
    let bob = Gc::new(GcPerson {
        name: "Bob".into(),
        best_friend: RefCell::new(None),
    });
    *alice.best_friend.borrow_mut() = Some(bob.clone());
    *bob.best_friend.borrow_mut() = Some(alice.clone());
}

/// The fixed `mem_leak()`: the pair is freed when the function returns.
pub fn make_weak_pair() {
    let alice = Rc::new(RcPerson {
        name: "Alice".into(),
        best_friend: RefCell::new(None),
    });
    let bob = Rc::new(RcPerson {
        name: "Bob".into(),
        best_friend: RefCell::new(None),
    });
    *alice.best_friend.borrow_mut() = Some(Friend::Strong(Rc::clone(&bob)));
    *bob.best_friend.borrow_mut() = Some(Friend::Weak(Rc::downgrade(&alice)));
}

/// Keeps the collector from running on its own (from now on, on this
/// thread), so that only [`collect_now`] frees a cycle.
pub fn collect_only_when_told() {
    set_collect_condition(never);
}

/// Runs the cycle collector: every unreachable cycle of this thread is freed.
pub fn collect_now() {
    collect();
}

/// The source's program: `iterations` pairs, the iteration numbers and
/// the "finished" line written to `out`; the drop messages go to stdout as
/// the persons are freed (flush `out` first to interleave them).
pub fn run(which: Run, iterations: u32, out: &mut dyn Write) -> io::Result<()> {
    collect_only_when_told();
    for i in 0..iterations {
        writeln!(out, "{i}")?;
        out.flush()?;
        match which {
            Run::Collected => make_collected_pair(),
            Run::Weak => make_weak_pair(),
        }
    }
    writeln!(out, "{FINISHED}")?;
    out.flush()?;
    // Where CPython's collector got to the cycles: at exit.
    collect_now();
    Ok(())
}

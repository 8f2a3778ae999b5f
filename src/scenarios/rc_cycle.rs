//! rc-cycle: two persons who are each other's best friend.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use super::code::{Code, Item};
use super::{BackendChoice, Expected, Iteration, Origin, Scenario, Variant, footprint};

pub static SCENARIO: Scenario = Scenario {
    id: "rc-cycle",
    title: "Reference cycle: best friends",
    origin: Origin {
        source: "python-leak-2",
        reference: "two objects that are each other's best friend: their __del__ message printed only \
                    when the cycle collector or process exit got to them; fixed with weakref",
    },
    pattern: "Alice and Bob hold strong Rc's to each other, so neither count reaches zero; Rust has no cycle collector, so they are never dropped, not even at exit",
    fix: "make the back reference a Weak: Bob's best_friend no longer keeps Alice alive",
    library: "none",
    leaky,
    safe,
    safe_backend: BackendChoice::C,
    pure_capable: false,
    expected,
    iteration_budget: None,
    source_file: "src/scenarios/rc_cycle.rs",
    source: include_str!("rc_cycle.rs"),
    code: Code {
        leaky: &[Item::LEAKY_WORKLOAD],
        safe: &[Item::SAFE_WORKLOAD],
    },
};

/// A friend, held strongly or weakly: held only for the reference it keeps.
#[allow(dead_code)]
enum Friend {
    Strong(Rc<Person>),
    Weak(Weak<Person>),
}

struct Person {
    name: String,
    best_friend: RefCell<Option<Friend>>,
}

impl Person {
    fn new(name: &str) -> Rc<Person> {
        Rc::new(Person {
            name: name.to_owned(),
            best_friend: RefCell::new(None),
        })
    }
}

impl Drop for Person {
    fn drop(&mut self) {
        println!("{} is being dropped", self.name);
    }
}

fn leaky(_: BackendChoice) -> Result<Iteration, String> {
    Ok(Box::new(|| {
        let alice = Person::new("Alice");
        let bob = Person::new("Bob");
        *alice.best_friend.borrow_mut() = Some(Friend::Strong(Rc::clone(&bob)));
        *bob.best_friend.borrow_mut() = Some(Friend::Strong(Rc::clone(&alice)));
        Ok(())
    }))
}

fn safe(_: BackendChoice) -> Result<Iteration, String> {
    Ok(Box::new(|| {
        let alice = Person::new("Alice");
        let bob = Person::new("Bob");
        *alice.best_friend.borrow_mut() = Some(Friend::Strong(Rc::clone(&bob)));
        *bob.best_friend.borrow_mut() = Some(Friend::Weak(Rc::downgrade(&alice)));
        Ok(())
    }))
}

fn expected(variant: Variant, _: BackendChoice) -> Expected {
    match variant {
        // Two Rc allocations (counts + Person) and the two names' buffers.
        Variant::Leaky => Expected::rust_lost(footprint::sum(&[
            footprint::rc_box::<Person>(),
            footprint::rc_box::<Person>(),
            footprint::block("Alice".len()),
            footprint::block("Bob".len()),
        ])),
        Variant::Safe => Expected::CLEAN,
    }
}

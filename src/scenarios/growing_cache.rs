//! growing-cache: memory kept reachable by a cache that only grows.

use std::collections::VecDeque;
use std::sync::Mutex;

use super::code::{Code, Item};
use super::{
    BackendChoice, Expected, Iteration, Origin, Scenario, SideExpectation, Variant, footprint,
};

pub static SCENARIO: Scenario = Scenario {
    id: "growing-cache",
    title: "Ever-growing cache (reachable, not lost)",
    origin: Origin {
        source: "python-leak-1",
        reference: "memory taken and never given back, without a lost pointer: a process-wide \
                    memo keyed by something unique per request",
    },
    pattern: "a global cache keyed by a per-request value gains one entry per request and never evicts: every byte stays reachable, so valgrind calls it 'still reachable', not a leak, while the process grows",
    fix: "bound the cache (evict the oldest past a capacity) and give it an owner with a lifetime",
    library: "none",
    leaky,
    safe,
    safe_backend: BackendChoice::C,
    pure_capable: false,
    expected,
    iteration_budget: None,
    source_file: "src/scenarios/growing_cache.rs",
    source: include_str!("growing_cache.rs"),
    code: Code {
        leaky: &[Item::here("static CACHE"), Item::LEAKY_WORKLOAD],
        safe: &[Item::here("const CAPACITY"), Item::SAFE_WORKLOAD],
    },
};

/// One memoised answer: fixed-size, so each entry is one exact block.
/// Nobody reads the cache: it only holds, which is the point.
#[allow(dead_code)]
pub struct Entry {
    answer: [u8; 56],
    older: Option<Box<Entry>>,
}

/// The leaky cache: process-wide, a linked list that is only ever pushed.
static CACHE: Mutex<Option<Box<Entry>>> = Mutex::new(None);

fn answer(key: u64) -> [u8; 56] {
    let mut out = [0u8; 56];
    out[..8].copy_from_slice(&key.to_le_bytes());
    out
}

fn leaky(_: BackendChoice) -> Result<Iteration, String> {
    let mut request = 0u64;
    Ok(Box::new(move || {
        request += 1;
        let mut head = CACHE.lock().map_err(|e| e.to_string())?;
        let older = head.take();
        *head = Some(Box::new(Entry {
            answer: answer(request),
            older,
        }));
        Ok(())
    }))
}

/// The safe cache: owned by the workload, at most `CAPACITY` entries.
const CAPACITY: usize = 16;

fn safe(_: BackendChoice) -> Result<Iteration, String> {
    let mut cache: VecDeque<(u64, [u8; 56])> = VecDeque::with_capacity(CAPACITY);
    let mut request = 0u64;
    Ok(Box::new(move || {
        request += 1;
        if cache.len() == CAPACITY {
            cache.pop_front();
        }
        cache.push_back((request, answer(request)));
        std::hint::black_box(cache.back().map(|(k, a)| (k, a[0])));
        Ok(())
    }))
}

fn expected(variant: Variant, _: BackendChoice) -> Expected {
    match variant {
        // One boxed entry per request, reachable from the static forever.
        Variant::Leaky => Expected {
            c: SideExpectation::Clean,
            rust: SideExpectation::reachable(footprint::rust_box::<Entry>()),
        },
        Variant::Safe => Expected::CLEAN,
    }
}

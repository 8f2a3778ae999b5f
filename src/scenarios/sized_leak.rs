//! sized-leak: a leak of a chosen size, to measure how small a leak each
//! detector still sees.
//!
//! The size comes from the environment variable `LEAKLAB_LEAK_BYTES`
//! (default [`DEFAULT_BYTES`]). The parent reads it to derive the expected
//! leak and the child (which inherits the environment) reads it to run the
//! workload, so both agree. The leaky variant allocates one `Box<[u8]>` of
//! exactly that many bytes per iteration and leaks it with `Box::leak`;
//! the safe variant allocates the same box and drops it. A size of 0
//! allocates nothing (a zero-sized box is a dangling pointer), so it leaks
//! nothing and is expected clean.

use std::alloc::Layout;

use super::code::{Code, Item};
use super::{BackendChoice, Expected, Iteration, Origin, Scenario, Variant, footprint};

pub static SCENARIO: Scenario = Scenario {
    id: "sized-leak",
    title: "A leak of LEAKLAB_LEAK_BYTES bytes (sensitivity probe)",
    origin: Origin {
        source: "rust-binding",
        reference: "the lab's own probe: one Box<[u8]> per iteration, sized by LEAKLAB_LEAK_BYTES \
                    (default 64), to find the smallest leak each detector flags",
    },
    pattern: "a heap buffer is handed to Box::leak (as a binding does when it gives C a pointer it never takes back)",
    fix: "keep the Box and let it drop at the end of the iteration",
    library: "none",
    leaky,
    safe,
    safe_backend: BackendChoice::C,
    pure_capable: false,
    expected,
    iteration_budget: None,
    source_file: "src/scenarios/sized_leak.rs",
    source: include_str!("sized_leak.rs"),
    code: Code {
        leaky: &[Item::LEAKY_WORKLOAD],
        safe: &[Item::SAFE_WORKLOAD],
    },
};

/// The environment variable holding the leak size in bytes.
pub const ENV: &str = "LEAKLAB_LEAK_BYTES";

/// The leak size when [`ENV`] is unset.
pub const DEFAULT_BYTES: usize = 64;

/// The leak size per iteration: [`ENV`] if set, [`DEFAULT_BYTES`] if not.
/// Read the same way by the parent (for `expected`, and to refuse a bad
/// value before any child starts) and the child (for the workload), so an
/// unusable value is an error on both, never a silent default that could
/// make them disagree. Refused: empty, not a decimal number, negative, not
/// UTF-8, and sizes no allocation can have (over `isize::MAX` bytes).
pub fn leak_bytes() -> Result<usize, String> {
    let text = match std::env::var(ENV) {
        Ok(text) => text,
        Err(std::env::VarError::NotPresent) => return Ok(DEFAULT_BYTES),
        Err(std::env::VarError::NotUnicode(raw)) => {
            return Err(format!("{ENV}={raw:?} is not a byte count: not UTF-8"));
        }
    };
    let size: usize = text
        .trim()
        .parse()
        .map_err(|e| format!("{ENV}={text:?} is not a byte count: {e}"))?;
    if Layout::array::<u8>(size).is_err() {
        return Err(format!(
            "{ENV}={size} is larger than any allocation can be ({} bytes at most)",
            isize::MAX
        ));
    }
    Ok(size)
}

/// One buffer of `size` bytes, written so the allocation cannot be elided.
fn buffer(size: usize) -> Box<[u8]> {
    std::hint::black_box(vec![0xA5u8; size].into_boxed_slice())
}

fn leaky(_: BackendChoice) -> Result<Iteration, String> {
    let size = leak_bytes()?;
    Ok(Box::new(move || {
        // Leaked on purpose: the returned &'static mut is the only pointer
        // to it, and it is dropped here.
        std::hint::black_box(Box::leak(buffer(size)));
        Ok(())
    }))
}

fn safe(_: BackendChoice) -> Result<Iteration, String> {
    let size = leak_bytes()?;
    Ok(Box::new(move || {
        drop(buffer(size));
        Ok(())
    }))
}

fn expected(variant: Variant, _: BackendChoice) -> Expected {
    match variant {
        // One Rust block of exactly LEAKLAB_LEAK_BYTES bytes (none for 0).
        // An unparsable value fails in the child (setup error), and the
        // expectation falls back to the default so the mismatch shows.
        Variant::Leaky => {
            let size = leak_bytes().unwrap_or(DEFAULT_BYTES);
            let layout = Layout::array::<u8>(size).unwrap_or(Layout::new::<()>());
            Expected::rust_lost(footprint::rust_layout(layout))
        }
        Variant::Safe => Expected::CLEAN,
    }
}

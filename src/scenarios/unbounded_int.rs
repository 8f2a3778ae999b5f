//! unbounded-int: `i = 1024 ** 1024 ** 1024`.

use num_bigint::BigUint;
use num_traits::One;

use super::code::{Code, Item};
use super::{BackendChoice, Expected, Iteration, Origin, Scenario, SideExpectation, Variant};

pub static SCENARIO: Scenario = Scenario {
    id: "unbounded-int",
    title: "Unbounded integer: 1024 ** 1024 ** 1024",
    origin: Origin {
        source: "python-leak-1",
        reference: "i = 1024 ** 1024 ** 1024: an arbitrary-precision power whose result cannot fit \
                    in any memory; the process takes memory and never gives it back",
    },
    pattern: "an arbitrary-precision power is computed without asking how big the result will be; each squaring doubles the memory until the process hits its limit",
    fix: "estimate the result's size (exponent x log2(base) bits) and refuse it against a memory budget before allocating",
    library: "none",
    leaky,
    safe,
    safe_backend: BackendChoice::C,
    pure_capable: false,
    expected,
    iteration_budget: None,
    source_file: "src/scenarios/unbounded_int.rs",
    source: include_str!("unbounded_int.rs"),
    code: Code {
        leaky: &[Item::here("fn unchecked_pow(")],
        safe: &[Item::here("pub fn checked_pow(")],
    },
};

const BASE: u32 = 1024;
const EXPONENT_BASE: u32 = 1024;
const EXPONENT_POWER: u32 = 1024;

/// Largest result the safe variant agrees to build.
pub const BUDGET_BYTES: u64 = 64 << 20;

/// Python's right-associative `1024 ** 1024 ** 1024`.
fn exponent() -> BigUint {
    BigUint::from(EXPONENT_BASE).pow(EXPONENT_POWER)
}

/// Square-and-multiply with no question asked about the result's size, as
/// Python's `**` does: the running square doubles in size at every bit of
/// the exponent, until an allocation is refused.
fn unchecked_pow(base: u32, exponent: &BigUint) -> BigUint {
    let mut result = BigUint::one();
    let mut square = BigUint::from(base);
    for bit in 0..exponent.bits() {
        if exponent.bit(bit) {
            result *= &square;
        }
        square = &square * &square;
    }
    result
}

fn leaky(_: BackendChoice) -> Result<Iteration, String> {
    Ok(Box::new(|| {
        let i = unchecked_pow(BASE, &exponent());
        std::hint::black_box(i);
        Ok(())
    }))
}

/// Why a power was refused.
#[derive(Debug)]
pub struct OverBudget {
    pub bits_needed: BigUint,
    pub budget_bits: u64,
}

impl std::fmt::Display for OverBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the result needs {} bits, over the budget of {} bits",
            self.bits_needed, self.budget_bits
        )
    }
}

/// `base ** exponent`, or `OverBudget` if the result would not fit in
/// `budget_bytes`: the result has about exponent x log2(base) bits.
pub fn checked_pow(
    base: u32,
    exponent: &BigUint,
    budget_bytes: u64,
) -> Result<BigUint, OverBudget> {
    let bits_per_factor = u64::from(u32::BITS - base.leading_zeros());
    let bits_needed = exponent * bits_per_factor;
    let budget_bits = budget_bytes * 8;
    if bits_needed > BigUint::from(budget_bits) {
        return Err(OverBudget {
            bits_needed,
            budget_bits,
        });
    }
    let small: u32 = exponent.try_into().unwrap_or(u32::MAX);
    Ok(if base == 1 {
        BigUint::one()
    } else {
        BigUint::from(base).pow(small)
    })
}

fn safe(_: BackendChoice) -> Result<Iteration, String> {
    Ok(Box::new(|| {
        match checked_pow(BASE, &exponent(), BUDGET_BYTES) {
            Err(refused) => std::hint::black_box(refused),
            Ok(_) => return Err("1024 ** 1024 ** 1024 was not refused".into()),
        };
        // A power that fits is still computed.
        let fits = checked_pow(BASE, &BigUint::from(EXPONENT_POWER), BUDGET_BYTES)
            .map_err(|e| format!("1024 ** 1024 refused: {e}"))?;
        std::hint::black_box(fits);
        Ok(())
    }))
}

fn expected(variant: Variant, _: BackendChoice) -> Expected {
    match variant {
        Variant::Leaky => Expected {
            c: SideExpectation::Clean,
            rust: SideExpectation::Unbounded,
        },
        Variant::Safe => Expected::CLEAN,
    }
}

//! `leaklab run <scenario>`.

use std::time::Duration;

use super::{EXIT_MISMATCH, EXIT_OK, Failure, args::LimitArgs, args::RunArgs, scenario};
use crate::report::record::RunRecord;
use crate::report::table;
use crate::run::isolate::Limits;
use crate::scenarios::{BackendChoice, Scenario, Variant};

pub fn run(args: RunArgs) -> Result<i32, Failure> {
    let s = scenario(&args.scenario)?;
    let limits = limits(&args.limits);
    let mut records = Vec::new();
    for variant in args.variant.variants() {
        // --backend picks the safe variant's backend; with both variants the
        // leaky one stays on the C binding it is about.
        let both = args.variant == super::args::VariantChoice::Both;
        let asked = if both && variant == Variant::Leaky {
            None
        } else {
            args.backend
        };
        let backend = backend_for(s, variant, asked)?;
        records.push(run_one(s, variant, backend, args.iterations, limits)?);
    }
    if args.json {
        let text = if records.len() == 1 {
            serde_json::to_string_pretty(&records[0])
        } else {
            serde_json::to_string_pretty(&records)
        };
        println!("{}", text.expect("records serialize"));
        for r in &records {
            eprint!("{}", r.output);
        }
    } else {
        for r in &records {
            print_output(r);
        }
        println!("{}", table::records(&records));
        for r in &records {
            if let Some(note) = ending_note(r) {
                println!("{note}");
            }
        }
    }
    let all_match = records.iter().all(|r| r.matches_expected);
    Ok(if all_match { EXIT_OK } else { EXIT_MISMATCH })
}

pub fn limits(args: &LimitArgs) -> Limits {
    Limits {
        mem_cap: args.mem_cap,
        time_limit: Duration::from_secs(args.time_limit),
    }
}

/// The backend a variant runs on: the one asked for, if the scenario
/// offers it, else the scenario's default.
pub fn backend_for(
    s: &Scenario,
    variant: Variant,
    asked: Option<BackendChoice>,
) -> Result<BackendChoice, Failure> {
    match asked {
        None => Ok(s.default_backend(variant)),
        Some(b) if s.supports(variant, b) => Ok(b),
        Some(b) => Err(Failure::usage(format!(
            "scenario '{}' has no {} variant on the {} backend",
            s.id,
            variant.as_str(),
            b.as_str()
        ))),
    }
}

/// Runs one variant in a child and builds its record.
pub fn run_one(
    s: &'static Scenario,
    variant: Variant,
    backend: BackendChoice,
    iterations: u64,
    limits: Limits,
) -> Result<RunRecord, Failure> {
    crate::detect::counters::record(&crate::detect::Request {
        scenario: s,
        variant,
        backend,
        iterations,
        limits,
    })
    .map_err(|message| Failure {
        message,
        code: super::EXIT_USAGE,
    })
}

/// The scenario's own output (rc-cycle's Drop messages), shortened.
fn print_output(r: &RunRecord) {
    let lines: Vec<&str> = r.output.lines().collect();
    if lines.is_empty() {
        println!("[{} {}] printed nothing", r.scenario, r.variant.as_str());
        return;
    }
    println!(
        "[{} {}] printed {} lines:",
        r.scenario,
        r.variant.as_str(),
        lines.len()
    );
    for line in lines.iter().take(6) {
        println!("  {line}");
    }
    if lines.len() > 6 {
        println!("  … ({} more)", lines.len() - 6);
    }
}

fn ending_note(r: &RunRecord) -> Option<String> {
    use crate::report::record::Ending;
    match &r.ending {
        Ending::Completed => None,
        Ending::HitCap {
            cap_bytes,
            failed_allocation_bytes,
            rust_live_bytes_at_failure,
            ..
        } => Some(format!(
            "{} {}: hit the memory cap of {} after {} complete iterations; the refused allocation was {}, with {} live on the Rust heap",
            r.scenario,
            r.variant.as_str(),
            table::bytes(*cap_bytes),
            r.completed,
            failed_allocation_bytes.map_or("unknown".into(), table::bytes),
            rust_live_bytes_at_failure.map_or("unknown".into(), table::bytes),
        )),
        other => Some(format!(
            "{} {}: {}",
            r.scenario,
            r.variant.as_str(),
            table::ending_text(other)
        )),
    }
}

//! `leaklab faults <scenario>`: fault injection at every C allocation.

use super::args::{FaultsArgs, VariantChoice};
use super::run::backend_for;
use super::{EXIT_MISMATCH, EXIT_OK, Failure, scenario};
use crate::hardening::faults::{Outcome, SweepReport, run_isolated};
use crate::scenarios::Variant;

pub fn run(args: FaultsArgs) -> Result<i32, Failure> {
    let s = scenario(&args.scenario)?;
    super::check_environment(s)?;
    let mut reports = Vec::new();
    for variant in args.variant.variants() {
        let asked = if args.variant == VariantChoice::Both && variant == Variant::Leaky {
            None
        } else {
            args.backend
        };
        let backend = backend_for(s, variant, asked)?;
        let report = run_isolated(s.id, variant, backend).map_err(|message| Failure {
            message,
            code: super::EXIT_USAGE,
        })?;
        reports.push(report);
    }
    // A sweep with nothing to inject (the workload makes no C allocation:
    // the first point never fired) says nothing about error paths; if no
    // sweep had anything, that is the one answer.
    let nothing: Vec<&SweepReport> = reports.iter().filter(|r| nothing_to_inject(r)).collect();
    let swept = reports.iter().filter(|r| r.skipped.is_none()).count();
    if swept > 0 && nothing.len() == swept {
        return Err(Failure::usage(format!(
            "nothing to inject: {} makes no C allocation{} (fault injection fails C allocations)",
            s.id,
            if args.backend == Some(crate::scenarios::BackendChoice::Pure) {
                " on the pure backend"
            } else {
                ""
            }
        )));
    }
    if args.json {
        let text = if reports.len() == 1 {
            serde_json::to_string_pretty(&reports[0])
        } else {
            serde_json::to_string_pretty(&reports)
        };
        outln!("{}", text.expect("reports serialize"))?;
    } else {
        outln!("{}", table(&reports))?;
        for r in &reports {
            describe_leaks(r)?;
            describe_library_failures(r)?;
        }
        for r in nothing {
            outln!(
                "{} {} on {}: no C allocation, nothing injected",
                r.scenario,
                r.variant,
                r.backend
            )?;
        }
    }
    // The promise under test: a safe variant declared clean never leaks or
    // panics, whatever allocation fails (1). A library that crashes or
    // exits on a failed allocation is its own finding (7), whatever the
    // binding: no binding can catch a SIGSEGV inside the library.
    let broken = reports.iter().any(|r| {
        r.variant == "safe"
            && r.skipped.is_none()
            && r.expected_per_iteration.is_zero()
            && !r.binding_is_clean()
    });
    let library = reports.iter().any(|r| r.crashes + r.exits > 0);
    Ok(if broken {
        EXIT_MISMATCH
    } else if library {
        EXIT_LIBRARY
    } else {
        EXIT_OK
    })
}

/// `faults`: the binding held, but the library crashed or exited at some
/// point (docs/exit-codes.md).
pub const EXIT_LIBRARY: i32 = 7;

/// The sweep ran the whole workload at its first point without any C
/// allocation to fail.
fn nothing_to_inject(r: &SweepReport) -> bool {
    r.skipped.is_none() && r.complete && r.crashes == 0 && r.failures_injected == 0
}

fn table(reports: &[SweepReport]) -> String {
    let mut table = crate::report::table::styled([
        "scenario",
        "variant",
        "backend",
        "points",
        "failures injected",
        "errors returned",
        "panics",
        "leaking points",
        "library crashes",
        "library exits",
    ]);
    for r in reports {
        let points = match &r.skipped {
            Some(why) => format!("skipped: {why}"),
            None => r.points_tried.to_string(),
        };
        table.add_row(vec![
            r.scenario.clone(),
            r.variant.clone(),
            r.backend.clone(),
            points,
            r.failures_injected.to_string(),
            r.errors_returned.to_string(),
            r.panics.to_string(),
            r.leaks_found.to_string(),
            r.crashes.to_string(),
            r.exits.to_string(),
        ]);
    }
    table.to_string()
}

/// The points at which the library crashed or exited: how, the failed
/// allocation's stack (the call that did not check it), the stack at the end.
fn describe_library_failures(r: &SweepReport) -> std::io::Result<()> {
    const FRAMES: usize = 6;
    if let Some(crash) = &r.crash {
        outln!(
            "{} {}: the sweep's process died outside any point (signal {:?}, exit {:?}) after point {:?}: {}",
            r.scenario,
            r.variant,
            crash.signal,
            crash.exit_code,
            crash.last_point,
            crash.stderr_tail
        )?;
    }
    let failures: Vec<_> = r.library_failures().collect();
    if failures.is_empty() {
        return Ok(());
    }
    outln!(
        "{} {}: the library mishandles a failed allocation (not the binding's leak):",
        r.scenario,
        r.variant
    )?;
    for p in failures {
        let Some(crash) = &p.crash else { continue };
        let verb = if p.outcome == Outcome::Exit {
            "the library exited"
        } else {
            "the library crashed"
        };
        outln!("  C allocation {} failed: {verb} ({})", p.n, crash.how())?;
        if !crash.failed_allocation.is_empty() {
            outln!("    the failed allocation, unchecked by the first caller here:")?;
            for f in crash.failed_allocation.iter().take(FRAMES) {
                outln!("      {f}")?;
            }
        }
        if !crash.stack.is_empty() {
            let at = if p.outcome == Outcome::Exit {
                "exit"
            } else {
                "crash"
            };
            outln!("    at the {at}:")?;
            for f in crash.stack.iter().take(FRAMES) {
                outln!("      {f}")?;
            }
        }
        if p.outcome == Outcome::Exit && !crash.stderr_tail.is_empty() {
            outln!(
                "    its message: {}",
                crash.stderr_tail.replace('\n', "\n      ")
            )?;
        }
    }
    Ok(())
}

/// The first few leaking points of a sweep, so a reader sees which error
/// paths leak and how much.
fn describe_leaks(r: &SweepReport) -> std::io::Result<()> {
    let leaking: Vec<_> = r.leaking_points().collect();
    if leaking.is_empty() {
        return Ok(());
    }
    outln!(
        "{} {}: error paths that leak beyond the normal per-iteration leak:",
        r.scenario,
        r.variant
    )?;
    for p in leaking.iter().take(5) {
        let stage = p.stage.map_or(String::new(), |s| {
            format!(
                " in {}",
                serde_json::to_string(&s)
                    .unwrap_or_default()
                    .trim_matches('"')
            )
        });
        let how = match p.outcome {
            Outcome::Ok => "the workload went on".to_string(),
            Outcome::Error => format!("error{stage}: {}", p.message),
            Outcome::Panic => format!("panic{stage}: {}", p.message),
            Outcome::Crash | Outcome::Exit => continue,
        };
        outln!(
            "  C allocation {} failed ({how}): kept beyond the normal leak C {} blk / {} B, Rust {} blk / {} B",
            p.n,
            p.beyond_expected.c.blocks,
            p.beyond_expected.c.bytes,
            p.beyond_expected.rust.blocks,
            p.beyond_expected.rust.bytes
        )?;
        if !p.sites.is_empty() {
            let mut text = String::from("    ");
            // Writing to a String cannot fail.
            let _ = crate::check::describe_sites(&p.sites, "this point, run once more,", &mut text);
            outln!("{}", text.replace('\n', "\n    "))?;
        }
    }
    if leaking.len() > 5 {
        outln!("  … and {} more (see --json)", leaking.len() - 5)?;
    }
    Ok(())
}

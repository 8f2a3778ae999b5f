//! `leaklab run <scenario>`.

use std::time::Duration;

use super::detectors::Detector;
use super::{EXIT_MISMATCH, EXIT_OK, Failure, args::LimitArgs, args::RunArgs, scenario};
use crate::detect::Request;
use crate::record::RunRecord;
use crate::report::table;
use crate::run::isolate::Limits;
use crate::scenarios::{BackendChoice, Scenario, Variant};

pub fn run(mut args: RunArgs) -> Result<i32, Failure> {
    let s = scenario(&args.scenario)?;
    super::check_environment(s)?;
    let budget = s.budgeted(args.iterations);
    if budget < args.iterations {
        eprintln!(
            "leaklab: {}'s leak is big: at most {budget} iterations fit under the default \
             memory cap, so {budget} run",
            s.id
        );
        args.iterations = budget;
    }
    if args.detector == Detector::Counters && args.plot.is_none() {
        super::check_counted()?;
    }
    let limits = limits(&args.limits);
    let mut plan = Vec::new();
    for variant in args.variant.variants() {
        // --backend picks the safe variant's backend; with both variants the
        // leaky one stays on the C binding it is about.
        let both = args.variant == super::args::VariantChoice::Both;
        let asked = if both && variant == Variant::Leaky {
            None
        } else {
            args.backend
        };
        plan.push((variant, backend_for(s, variant, asked)?));
    }
    if args.detector != Detector::Counters || args.plot.is_some() {
        return with_detector(&args, s, &plan, limits);
    }
    let mut records = Vec::new();
    for (variant, backend) in plan {
        let _spinner = spinner(s, variant, args.iterations, "counters");
        records.push(run_one(s, variant, backend, args.iterations, limits)?);
    }
    if args.json {
        let text = if records.len() == 1 {
            serde_json::to_string_pretty(&records[0])
        } else {
            serde_json::to_string_pretty(&records)
        };
        outln!("{}", text.expect("records serialize"))?;
        for r in &records {
            eprint!("{}", r.output);
        }
    } else {
        for r in &records {
            print_output(r)?;
        }
        outln!("{}", table::records(&records))?;
        for r in &records {
            if let Some(note) = ending_note(r) {
                outln!("{note}")?;
            }
        }
        for r in &records {
            if !r.sites.is_empty() {
                outln!("\n{}", sites_note(r))?;
            }
        }
    }
    let all_match = records.iter().all(|r| r.matches_expected);
    Ok(if all_match { EXIT_OK } else { EXIT_MISMATCH })
}

/// `run --detector X` (and `--plot`): one observation per variant.
fn with_detector(
    args: &RunArgs,
    s: &'static Scenario,
    plan: &[(Variant, BackendChoice)],
    limits: Limits,
) -> Result<i32, Failure> {
    if args.plot.is_some() && args.detector != Detector::Growth {
        return Err(Failure::usage(
            "--plot draws the growth detector's samples: add --detector growth",
        ));
    }
    if let Some(why) = args.detector.unavailable() {
        return Err(Failure::usage(format!(
            "{} cannot run here: {}",
            why.detector, why.reason
        )));
    }
    args.detector.prepare();
    let request = |variant, backend| Request {
        scenario: s,
        variant,
        backend,
        iterations: args.iterations,
        limits,
    };
    let mut observations = Vec::new();
    let mut reports = Vec::new();
    for &(variant, backend) in plan {
        let _spinner = spinner(s, variant, args.iterations, args.detector.name());
        let req = request(variant, backend);
        let outcome = if args.detector == Detector::Growth {
            let report = crate::detect::growth::report(&req).map_err(|message| Failure {
                message,
                code: super::EXIT_USAGE,
            })?;
            let cell = crate::detect::growth::observation(&report);
            reports.push((variant, report));
            Ok(cell)
        } else {
            args.detector.observe(&req)
        };
        observations.push((variant, outcome));
    }
    if let Some(path) = &args.plot {
        // The plot shows both variants: run the one not asked for too.
        for variant in [Variant::Leaky, Variant::Safe] {
            if !reports.iter().any(|(v, _)| *v == variant) {
                let req = request(variant, s.default_backend(variant));
                let report = crate::detect::growth::report(&req).map_err(|message| Failure {
                    message,
                    code: super::EXIT_USAGE,
                })?;
                reports.push((variant, report));
            }
        }
        let find = |v: Variant| &reports.iter().find(|(x, _)| *x == v).expect("both ran").1;
        crate::report::plot::write_growth_plot(
            path,
            s.id,
            find(Variant::Leaky),
            find(Variant::Safe),
        )
        .map_err(|message| Failure {
            message,
            code: super::EXIT_USAGE,
        })?;
        eprintln!("leaklab: wrote {}", path.display());
    }
    if args.json {
        let values: Vec<serde_json::Value> = observations
            .iter()
            .map(|(_, o)| match o {
                Ok(x) => serde_json::to_value(x),
                Err(u) => serde_json::to_value(u),
            })
            .collect::<Result<_, _>>()
            .expect("observations serialize");
        let value = if values.len() == 1 {
            values.into_iter().next().expect("one")
        } else {
            serde_json::Value::Array(values)
        };
        outln!("{}", serde_json::to_string_pretty(&value).expect("json"))?;
    } else {
        for (variant, outcome) in &observations {
            match outcome {
                Ok(o) => {
                    outln!(
                        "{} {} [{}]: {} (expected {}) {}",
                        s.id,
                        variant.as_str(),
                        o.detector,
                        o.observed,
                        o.expected,
                        if o.matches { "match" } else { "MISMATCH" }
                    )?;
                    for stack in &o.stacks {
                        outln!(
                            "  {}: {} blocks / {} B {}, allocated at:",
                            match stack.side {
                                crate::detect::at_exit::attribution::Side::C => "C",
                                crate::detect::at_exit::attribution::Side::Rust => "Rust",
                            },
                            stack.blocks,
                            stack.bytes,
                            stack.kind
                        )?;
                        for frame in stack.frames.iter().take(6) {
                            outln!("      {frame}")?;
                        }
                    }
                }
                Err(u) => outln!(
                    "{} {} [{}]: not run: {}",
                    s.id,
                    variant.as_str(),
                    u.detector,
                    u.reason
                )?,
            }
        }
    }
    let ok = observations
        .iter()
        .all(|(_, o)| matches!(o, Ok(x) if x.matches));
    if observations.iter().any(|(_, o)| o.is_err()) {
        return Ok(super::EXIT_USAGE);
    }
    Ok(if ok { EXIT_OK } else { EXIT_MISMATCH })
}

/// A spinner on stderr while a child runs (drawn only on a terminal),
/// cleared when dropped.
fn spinner(s: &Scenario, variant: Variant, iterations: u64, detector: &str) -> Spinner {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {msg} {elapsed}").expect("template"),
    );
    bar.set_message(format!(
        "{} {}: {iterations} iterations under {detector}",
        s.id,
        variant.as_str()
    ));
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    Spinner(bar)
}

struct Spinner(indicatif::ProgressBar);

impl Drop for Spinner {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

/// The children's limits from the flags; in a sanitizer build, which caps
/// its children differently (src/run/sanitizer.rs), says so on stderr,
/// once per process.
pub fn limits(args: &LimitArgs) -> Limits {
    static NOTED: std::sync::Once = std::sync::Once::new();
    if let Some(note) = crate::run::sanitizer::cap_note(args.mem_cap) {
        NOTED.call_once(|| eprintln!("leaklab: {note}"));
    }
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
    crate::detect::counters::record_with_stacks(&crate::detect::Request {
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

/// The scenario's own output (rc-cycle's Drop messages), shortened; nothing
/// for a scenario that printed nothing.
fn print_output(r: &RunRecord) -> std::io::Result<()> {
    let lines: Vec<&str> = r.output.lines().collect();
    if lines.is_empty() {
        // Most scenarios print nothing: no line to say so.
        return Ok(());
    }
    outln!(
        "[{} {}] printed {} lines:",
        r.scenario,
        r.variant.as_str(),
        lines.len()
    )?;
    for line in lines.iter().take(6) {
        outln!("  {line}")?;
    }
    if lines.len() > 6 {
        outln!("  … ({} more)", lines.len() - 6)?;
    }
    Ok(())
}

/// "unfreed-result leaky: allocation stacks of what 2 more iterations kept…".
fn sites_note(r: &RunRecord) -> String {
    let mut text = format!("{} {}: ", r.scenario, r.variant.as_str());
    let recorded = format!(
        "{} more iterations",
        crate::run::measure::RECORDED_ITERATIONS
    );
    // Writing to a String cannot fail.
    let _ = crate::check::describe_sites(&r.sites, &recorded, &mut text);
    text
}

fn ending_note(r: &RunRecord) -> Option<String> {
    use crate::record::Ending;
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

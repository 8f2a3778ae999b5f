//! `leaklab matrix`: every scenario, both variants, expected versus observed,
//! for the counters alone (the default) or for several detectors side by side.

use std::collections::BTreeMap;

use comfy_table::{Cell, Color};
use indicatif::{ProgressBar, ProgressStyle};

use super::detectors::Detector;
use super::run::{limits, run_one};
use super::{EXIT_MISMATCH, EXIT_OK, EXIT_USAGE, Failure, args::MatrixArgs};
use crate::detect::{self, Outcome, Request};
use crate::report::html::{MatrixRow, matrix_page};
use crate::report::{plot, table};
use crate::run::isolate::Limits;
use crate::scenarios::{self, Scenario, Variant};

pub fn run(args: MatrixArgs) -> Result<i32, Failure> {
    if args.detectors == [Detector::Counters] && args.html.is_none() {
        super::check_counted()?;
    }
    let limits = limits(&args.limits);
    let cells = cells();
    for (s, _) in &cells {
        super::check_environment(s)?;
    }
    if args.detectors == [Detector::Counters] && args.html.is_none() {
        return counters_only(&args, limits, &cells);
    }
    // Wall time per detector (its builds and its cells), said at the end:
    // where a matrix run goes.
    let mut spent = Vec::new();
    for detector in &args.detectors {
        let started = std::time::Instant::now();
        detector.prepare();
        spent.push(started.elapsed());
    }
    let bar = progress(cells.len() * args.detectors.len());
    let request = |s: &'static Scenario, variant: Variant, detector: Detector| Request {
        scenario: s,
        variant,
        backend: s.default_backend(variant),
        iterations: s.budgeted(iterations_for(detector, &args)),
        limits,
    };
    // Every cell's outcome, [cell][detector]. First the cells whose
    // figures do not depend on the machine's load (memcheck's and LSan's
    // records), as many at a time as there are cores; then, alone, those
    // that time or weigh memory (counters, growth's RSS) and Miri (one
    // cargo at a time holds the build directory).
    let mut outcomes: Vec<Vec<Option<Outcome>>> =
        vec![vec![None; args.detectors.len()]; cells.len()];
    let beside: Vec<(usize, usize)> = (0..cells.len())
        .flat_map(|c| (0..args.detectors.len()).map(move |d| (c, d)))
        .filter(|&(c, d)| runs_beside_others(args.detectors[d], cells[c].0))
        .collect();
    let queue = std::sync::Mutex::new(beside);
    let done = std::sync::Mutex::new(Vec::new());
    let jobs = std::thread::available_parallelism().map_or(1, usize::from);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                while let Some((c, d)) = queue.lock().ok().and_then(|mut q| q.pop()) {
                    let (s, variant) = cells[c];
                    let detector = args.detectors[d];
                    let started = std::time::Instant::now();
                    let outcome = match detector.unavailable() {
                        Some(why) => Err(why),
                        None => detector.observe(&request(s, variant, detector)),
                    };
                    bar.inc(1);
                    if let Ok(mut done) = done.lock() {
                        done.push((c, d, outcome, started.elapsed()));
                    }
                }
            });
        }
    });
    for (c, d, outcome, took) in done.into_inner().unwrap_or_default() {
        outcomes[c][d] = Some(outcome);
        spent[d] += took;
    }
    let mut growth_reports = BTreeMap::new();
    for (c, (s, variant)) in cells.iter().enumerate() {
        for (d, detector) in args.detectors.iter().enumerate() {
            if outcomes[c][d].is_some() {
                continue;
            }
            let started = std::time::Instant::now();
            bar.set_message(format!("{} {} {}", s.id, variant.as_str(), detector.name()));
            let req = request(s, *variant, *detector);
            let outcome = match detector.unavailable() {
                Some(why) => Err(why),
                None if *detector == Detector::Growth => {
                    // Kept for the plots: one run serves the cell and the picture.
                    match detect::growth::report(&req) {
                        Ok(report) => {
                            let cell = detect::growth::observation(&report);
                            growth_reports.insert((s.id, variant.as_str()), report);
                            Ok(cell)
                        }
                        Err(reason) => Err(detect::Unavailable {
                            detector: detect::growth::NAME,
                            reason,
                            by_design: false,
                        }),
                    }
                }
                None => detector.observe(&req),
            };
            outcomes[c][d] = Some(outcome);
            spent[d] += started.elapsed();
            bar.inc(1);
        }
    }
    let rows: Vec<MatrixRow> = cells
        .iter()
        .zip(outcomes)
        .map(|((s, variant), outcomes)| MatrixRow {
            scenario: s.id.to_owned(),
            variant: variant.as_str().to_owned(),
            backend: s.default_backend(*variant).as_str().to_owned(),
            cells: args
                .detectors
                .iter()
                .zip(outcomes)
                .filter_map(|(d, o)| Some((d.name().to_owned(), o?)))
                .collect(),
        })
        .collect();
    bar.finish_and_clear();
    let spent: Vec<String> = args
        .detectors
        .iter()
        .zip(&spent)
        .map(|(d, t)| format!("{} {:.0} s", d.name(), t.as_secs_f64()))
        .collect();
    eprintln!(
        "leaklab: time per detector (its build, and its cells summed; valgrind's and lsan's run {jobs} at a time): {}",
        spent.join(", ")
    );

    if let Some(path) = &args.html {
        let plots = plots(&growth_reports, args.growth_iterations);
        std::fs::write(path, matrix_page(&rows, &plots)).map_err(|e| Failure {
            message: format!("cannot write {}: {e}", path.display()),
            code: EXIT_USAGE,
        })?;
        eprintln!("leaklab: wrote {}", path.display());
    }
    if args.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&rows_json(&rows)).expect("json")
        )?;
    } else {
        outln!("{}", detector_table(&rows, &args.detectors))?;
    }
    summarize(&rows)
}

/// Whether a cell may run beside others: its detector's figures are
/// records, not times or resident sizes, and it shares no server (the
/// MariaDB scenarios share the lab's one).
fn runs_beside_others(detector: Detector, scenario: &Scenario) -> bool {
    matches!(detector, Detector::Valgrind | Detector::Lsan) && scenario.library != "mariadb"
}

/// Every scenario, leaky then safe.
fn cells() -> Vec<(&'static Scenario, Variant)> {
    scenarios::all()
        .iter()
        .flat_map(|s| [Variant::Leaky, Variant::Safe].map(|v| (*s, v)))
        .collect()
}

fn iterations_for(detector: Detector, args: &MatrixArgs) -> u64 {
    match detector {
        Detector::Growth => args.growth_iterations,
        Detector::Valgrind | Detector::Lsan => args.tool_iterations,
        Detector::Counters | Detector::Miri => args.iterations,
    }
}

fn progress(len: usize) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
            .expect("template")
            .progress_chars("=> "),
    );
    bar
}

/// The counters' matrix: one detailed row per cell, both sides.
fn counters_only(
    args: &MatrixArgs,
    limits: Limits,
    cells: &[(&'static Scenario, Variant)],
) -> Result<i32, Failure> {
    let bar = progress(cells.len());
    let mut records = Vec::new();
    for (s, variant) in cells {
        bar.set_message(format!("{} {}", s.id, variant.as_str()));
        let backend = s.default_backend(*variant);
        records.push(run_one(
            s,
            *variant,
            backend,
            s.budgeted(args.iterations),
            limits,
        )?);
        bar.inc(1);
    }
    bar.finish_and_clear();
    if args.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&records).expect("records serialize")
        )?;
    } else {
        outln!("{}", table::records(&records))?;
    }
    let mismatches = records.iter().filter(|r| !r.matches_expected).count();
    if mismatches > 0 {
        eprintln!(
            "leaklab: {mismatches} of {} cells differ from what their scenario declares",
            records.len()
        );
        return Ok(EXIT_MISMATCH);
    }
    Ok(EXIT_OK)
}

/// One growth plot per scenario whose two variants both ran.
fn plots(
    reports: &BTreeMap<(&str, &str), detect::growth::GrowthReport>,
    iterations: u64,
) -> Vec<(String, String)> {
    scenarios::all()
        .iter()
        .filter_map(|s| {
            let leaky = reports.get(&(s.id, "leaky"))?;
            let safe = reports.get(&(s.id, "safe"))?;
            Some((
                format!("{} ({iterations} iterations)", s.id),
                plot::growth_plot_svg(s.id, leaky, safe),
            ))
        })
        .collect()
}

fn cell_text(outcome: &Outcome) -> (String, Color) {
    match outcome {
        Ok(o) if o.matches => (format!("✓ {}", o.observed), Color::Green),
        Ok(o) => (
            format!("✗ {} (expected {})", o.observed, o.expected),
            Color::Red,
        ),
        Err(why) => (format!("not run: {}", why.reason), Color::DarkGrey),
    }
}

fn detector_table(rows: &[MatrixRow], detectors: &[Detector]) -> String {
    let mut header = vec!["scenario", "variant"];
    header.extend(detectors.iter().map(|d| d.name()));
    let mut t = table::styled(header);
    for row in rows {
        let mut cells = vec![Cell::new(&row.scenario), Cell::new(&row.variant)];
        for (_, outcome) in &row.cells {
            let (text, color) = cell_text(outcome);
            cells.push(Cell::new(text).fg(color));
        }
        t.add_row(cells);
    }
    t.to_string()
}

fn rows_json(rows: &[MatrixRow]) -> serde_json::Value {
    serde_json::Value::Array(
        rows.iter()
            .map(|r| {
                let cells: serde_json::Map<String, serde_json::Value> = r
                    .cells
                    .iter()
                    .map(|(name, outcome)| {
                        let value = match outcome {
                            Ok(o) => serde_json::to_value(o),
                            Err(u) => serde_json::to_value(u),
                        }
                        .expect("cell serializes");
                        (name.clone(), value)
                    })
                    .collect();
                serde_json::json!({
                    "scenario": r.scenario,
                    "variant": r.variant,
                    "backend": r.backend,
                    "detectors": cells,
                })
            })
            .collect(),
    )
}

/// Exit 1 on any mismatch; exit 2 if a cell could not run here for want of
/// a tool or because it failed (named on stderr and in its column, never
/// passed silently). Cells a detector cannot see by its nature (Miri and a
/// C library without a model) are shown, not counted against the run.
fn summarize(rows: &[MatrixRow]) -> Result<i32, Failure> {
    let all: Vec<&Outcome> = rows
        .iter()
        .flat_map(|r| r.cells.iter().map(|(_, o)| o))
        .collect();
    let mismatches = all
        .iter()
        .filter(|o| matches!(o, Ok(x) if !x.matches))
        .count();
    let by_design = all
        .iter()
        .filter(|o| matches!(o, Err(u) if u.by_design))
        .count();
    let not_run = all
        .iter()
        .filter(|o| matches!(o, Err(u) if !u.by_design))
        .count();
    if by_design > 0 {
        eprintln!(
            "leaklab: {by_design} of {} cells are out of their detector's sight by design (see their reasons)",
            all.len()
        );
    }
    if mismatches > 0 {
        eprintln!(
            "leaklab: {mismatches} of {} cells differ from what their scenario declares",
            all.len()
        );
        return Ok(EXIT_MISMATCH);
    }
    if not_run > 0 {
        return Err(Failure::usage(format!(
            "{not_run} of {} cells could not run here (see their reasons)",
            all.len()
        )));
    }
    Ok(EXIT_OK)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::{Observation, skipped_unbounded};

    fn row(cells: Vec<(String, Outcome)>) -> MatrixRow {
        MatrixRow {
            scenario: "unbounded-int".into(),
            variant: "leaky".into(),
            backend: "c".into(),
            cells,
        }
    }

    fn skipped() -> (String, Outcome) {
        let why = "no exit to check";
        ("valgrind".into(), Err(skipped_unbounded("valgrind", why)))
    }

    fn mismatch() -> (String, Outcome) {
        let obs = Observation {
            stacks: Vec::new(),
            detector: "counters",
            observed: "clean".into(),
            expected: "leak".into(),
            matches: false,
            detail: serde_json::Value::Null,
        };
        ("counters".into(), Ok(obs))
    }

    #[test]
    fn a_skipped_cell_is_grey_with_its_reason_never_a_green_tick() {
        let (text, color) = cell_text(&skipped().1);
        assert_eq!(color, Color::DarkGrey, "{text}");
        assert!(!text.contains('✓'), "{text}");
        assert!(text.starts_with("not run: skipped: unbounded"), "{text}");
        let rows = [row(vec![skipped()])];
        let table = detector_table(&rows, &[Detector::Valgrind]);
        assert!(!table.contains('✓'), "{table}");
        let json = rows_json(&rows);
        let cell = &json[0]["detectors"]["valgrind"];
        assert!(cell.get("matches").is_none(), "{cell}");
        assert_eq!(cell["by_design"], true, "{cell}");
        let page = matrix_page(&rows, &[]);
        assert!(
            page.contains("0 cells match, 0 differ, 1 not run"),
            "{page}"
        );
        assert!(!page.contains("class=\"cell match\""), "{page}");
    }

    #[test]
    fn a_skipped_cell_does_not_outweigh_a_mismatch() {
        let rows = [row(vec![skipped(), mismatch()])];
        assert_eq!(summarize(&rows).ok(), Some(EXIT_MISMATCH));
    }
}

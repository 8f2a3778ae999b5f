//! `leaklab explain <scenario>`: what leaks, why, the fix, the leaky and
//! safe workloads with the lines that differ marked, and the code of the
//! mistake and of its fix (each scenario names it: src/scenarios/code.rs).

use similar::{ChangeTag, TextDiff};

use super::{EXIT_OK, Failure, args::ExplainArgs, scenario};
use crate::scenarios::footprint::measured_during;
use crate::scenarios::{BackendChoice, Scenario, Variant};

pub fn run(args: ExplainArgs) -> Result<i32, Failure> {
    let s = scenario(&args.scenario)?;
    super::write_out(format_args!("{}", render(s)))?;
    Ok(EXIT_OK)
}

/// The whole explanation as text.
pub fn render(s: &Scenario) -> String {
    let (leaky, measured) = measured_during(|| (s.expected)(Variant::Leaky, BackendChoice::C));
    let safe_backend = s.default_backend(Variant::Safe);
    let safe = (s.expected)(Variant::Safe, safe_backend);
    let mut out = String::new();
    out.push_str(&format!("{} — {}\n\n", s.id, s.title));
    out.push_str(&format!(
        "Origin ({}): {}\n",
        s.origin.source, s.origin.reference
    ));
    out.push_str(&format!("Pattern: {}\n", s.pattern));
    out.push_str(&format!("Fix: {}\n\n", s.fix));
    out.push_str("Leaks per iteration:\n");
    let label = |variant: &str, backend: BackendChoice| {
        // Only the connector has two backends to choose from.
        if s.library != "connector" {
            variant.to_owned()
        } else {
            format!("{variant} ({} backend)", backend.as_str())
        }
    };
    for (name, expected) in [
        (label("leaky", BackendChoice::C), leaky),
        (label("safe", safe_backend), safe),
    ] {
        out.push_str(&format!(
            "  {name:<20} C {:<28} Rust {}\n",
            expected.c.describe(),
            expected.rust.describe()
        ));
    }
    if measured {
        out.push_str(
            "  (the leaky size includes a footprint measured with the safe binding: the \
             library's structures are private, so it is not derived from a layout)\n",
        );
    }
    if let Some(row) = crate::scenarios::fidelity::row_of(s.id) {
        out.push_str(&crate::scenarios::fidelity::render(row));
    }
    out.push_str(&format!(
        "\nThe workload, leaky then safe ({}); '-' only in leaky, '+' only in safe:\n\n",
        s.source_file
    ));
    let leaky_src = function(s.source, "fn leaky(");
    let safe_src = function(s.source, "fn safe(");
    let diff = TextDiff::from_lines(&leaky_src, &safe_src);
    for change in diff.iter_all_changes() {
        let mark = match change.tag() {
            ChangeTag::Delete => "- ",
            ChangeTag::Insert => "+ ",
            ChangeTag::Equal => "  ",
        };
        out.push_str(mark);
        out.push_str(change.as_str().unwrap_or(""));
        if change.missing_newline() {
            out.push('\n');
        }
    }
    out.push_str(&code(s));
    out
}

/// The code the scenario names as its mistake and its fix, with where each
/// piece lives.
fn code(s: &Scenario) -> String {
    let own = s.file();
    let mut out = String::new();
    for (what, items) in [("mistake", s.code.leaky), ("fix", s.code.safe)] {
        for item in items {
            if item.is_workload() {
                out.push_str(&format!("\nThe {what}: in the workload above.\n"));
                continue;
            }
            let (path, text) = match item.resolve(&own) {
                Ok(found) => found,
                // A stale reference (the tests resolve every one) says so
                // rather than hiding the rest.
                Err(e) => (own.path, format!("(not found: {e})\n")),
            };
            out.push_str(&format!("\nThe {what} ({path}):\n\n{text}"));
        }
    }
    out
}

/// The source of the top-level function starting with `signature`: from
/// that line to the first line that is just `}`.
fn function(source: &str, signature: &str) -> String {
    let mut lines = source.lines().skip_while(|l| !l.starts_with(signature));
    let mut out = String::new();
    for line in lines.by_ref() {
        out.push_str(line);
        out.push('\n');
        if line == "}" {
            break;
        }
    }
    out
}

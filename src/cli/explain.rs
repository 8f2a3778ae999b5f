//! `leaklab explain <scenario>`: what leaks, why, the fix, and the leaky
//! and safe workloads with the lines that differ marked.

use similar::{ChangeTag, TextDiff};

use super::{EXIT_OK, Failure, args::ExplainArgs, scenario};
use crate::scenarios::{BackendChoice, Scenario, Variant};

pub fn run(args: ExplainArgs) -> Result<i32, Failure> {
    let s = scenario(&args.scenario)?;
    super::write_out(format_args!("{}", render(s)))?;
    Ok(EXIT_OK)
}

/// The whole explanation as text.
pub fn render(s: &Scenario) -> String {
    let leaky = (s.expected)(Variant::Leaky, BackendChoice::C);
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
    out.push_str(&binding_methods(s, &leaky_src));
    out.push_str(&inline_binding(s));
    out.push_str(&safe_helpers(s, &safe_src));
    out
}

/// Helper functions of the scenario file that the safe workload calls (the
/// safe twins of leaky binding methods, such as early-return's `sum_column`).
fn safe_helpers(s: &Scenario, safe_src: &str) -> String {
    let mut out = String::new();
    for line in s.source.lines() {
        let Some(rest) = line.strip_prefix("fn ") else {
            continue;
        };
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let called =
            safe_src.contains(&format!("{name}(")) && !safe_src.contains(&format!("fn {name}("));
        if name.is_empty() || !called || matches!(name.as_str(), "leaky" | "safe" | "expected") {
            continue;
        }
        out.push_str(&format!(
            "\nThe safe workload's `{name}` ({}):\n\n",
            s.source_file
        ));
        out.push_str(&function(s.source, &format!("fn {name}(")));
    }
    out
}

/// A binding kept in the scenario file itself (`mod leaky` and `mod safe`,
/// as the system libraries' scenarios have it): both, mistake then fix.
fn inline_binding(s: &Scenario) -> String {
    let leaky = top_level_block(s.source, "mod leaky {");
    let safe = top_level_block(s.source, "mod safe {");
    if leaky.is_empty() || safe.is_empty() {
        return String::new();
    }
    format!("\nThe binding, in the same file: the mistake, then the fix:\n\n{leaky}\n{safe}")
}

/// A top-level item from its doc comment to its closing `}`, or nothing.
fn top_level_block(source: &str, signature: &str) -> String {
    item_with_docs(source, signature, "}")
}

/// The leaky binding's methods the leaky workload calls, with their doc
/// comments (which name the mistake and the real bug it mirrors).
fn binding_methods(s: &Scenario, leaky_src: &str) -> String {
    let Some((path, source)) = crate::scenarios::bindings::leaky_binding(s.library) else {
        return String::new();
    };
    let mut out = String::new();
    let mut shown = Vec::new();
    // The methods the iteration calls, not the setup before it.
    let iteration = leaky_src
        .find("Box::new(")
        .map_or(leaky_src, |at| &leaky_src[at..]);
    for name in called_methods(iteration) {
        let signature = format!("    pub fn {name}");
        if shown.contains(&name) || !source.contains(&signature) {
            continue;
        }
        out.push_str(&format!("\nThe leaky binding's `{name}` ({path}):\n\n"));
        out.push_str(&method_with_docs(source, &signature));
        shown.push(name);
    }
    out
}

/// Names `x` of every `.x(` and `::x(` call in `code`.
fn called_methods(code: &str) -> Vec<String> {
    code.replace("::", ".")
        .split('.')
        .skip(1)
        .filter_map(|rest| {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            (!name.is_empty() && rest[name.len()..].starts_with('(')).then_some(name)
        })
        .collect()
}

/// An indented method from its doc comment to its closing `    }`.
fn method_with_docs(source: &str, signature: &str) -> String {
    item_with_docs(source, signature, "    }")
}

/// The item whose first line starts with `signature`, with the doc comments
/// and attributes above it, up to the first line equal to `end`; nothing if
/// there is no such item.
fn item_with_docs(source: &str, signature: &str, end: &str) -> String {
    let lines: Vec<&str> = source.lines().collect();
    let Some(start) = lines.iter().position(|l| l.starts_with(signature)) else {
        return String::new();
    };
    let docs = lines[..start]
        .iter()
        .rev()
        .take_while(|l| l.trim_start().starts_with("///") || l.trim_start().starts_with("#["))
        .count();
    let mut out = String::new();
    for line in &lines[start - docs..] {
        out.push_str(line);
        out.push('\n');
        if *line == end {
            break;
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

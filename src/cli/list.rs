//! `leaklab list`.

use serde_json::json;

use super::{EXIT_OK, Failure, args::ListArgs};
use crate::scenarios::{self, BackendChoice, Variant};

pub fn run(args: ListArgs) -> Result<i32, Failure> {
    if args.json {
        let list: Vec<_> = scenarios::all()
            .iter()
            .map(|s| {
                json!({
                    "id": s.id,
                    "title": s.title,
                    "origin": s.origin,
                    "library": s.library,
                    "pattern": s.pattern,
                    "fix": s.fix,
                    "variants": ["leaky", "safe"],
                    "backends": {
                        "leaky": ["c"],
                        "safe": if s.pure_capable { vec!["c", "pure"] } else { vec!["c"] },
                    },
                    "default_backend": {
                        "leaky": s.default_backend(Variant::Leaky),
                        "safe": s.default_backend(Variant::Safe),
                    },
                    "expected_per_iteration": {
                        "leaky": (s.expected)(Variant::Leaky, BackendChoice::C),
                        "safe": (s.expected)(Variant::Safe, s.default_backend(Variant::Safe)),
                    },
                })
            })
            .collect();
        outln!("{}", serde_json::to_string_pretty(&list).expect("json"))?;
        return Ok(EXIT_OK);
    }
    let mut table =
        crate::report::table::styled(["scenario", "title", "source", "leaky leaks per iteration"]);
    for s in scenarios::all() {
        let e = (s.expected)(Variant::Leaky, BackendChoice::C);
        let leaks = [("C", e.c), ("Rust", e.rust)]
            .iter()
            .filter(|(_, side)| side.is_leak())
            .map(|(name, side)| format!("{name}: {}", side.describe()))
            .collect::<Vec<_>>()
            .join("; ");
        table.add_row(vec![s.id, s.title, s.origin.source, &leaks]);
    }
    outln!("{table}")?;
    Ok(EXIT_OK)
}

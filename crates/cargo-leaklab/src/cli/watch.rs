//! `leaklab watch [--interval DUR] [--duration DUR] [--plot out.svg] [--json]
//! -- <program> [args]`: the summary, the JSON object and the plot of a
//! watched program (the watching itself is [`crate::watch`]).

use super::args::WatchArgs;
use super::{EXIT_CRASHED, EXIT_MISMATCH, EXIT_OK, Failure};
use crate::fit::Fit;
use crate::units::bytes;
use crate::watch::judge::Verdict;
use crate::watch::{self, Options, Watch};

pub fn run(args: WatchArgs) -> Result<i32, Failure> {
    let opts = Options {
        program: args.program.clone(),
        interval: args.interval,
        duration: args.duration,
        warmup: args.warmup,
        stdout_to_stderr: args.json,
        mem_cap: args.mem_cap,
        sites: !args.no_sites,
        keep_pymalloc: args.keep_pymalloc,
        sites_sample: args.sites_sample,
        per: args.per.clone(),
        every: args.every,
    };
    let w = watch::watch(&opts).map_err(|e| Failure::usage(e.0))?;
    if let Some(path) = &args.plot {
        std::fs::write(path, plot_svg(&w))
            .map_err(|e| Failure::usage(format!("cannot write {}: {e}", path.display())))?;
    }
    if args.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&w).expect("a watch serializes")
        )?;
    } else {
        print_summary(&w)?;
    }
    Ok(match w.judgement.verdict {
        Verdict::Grows => EXIT_MISMATCH,
        Verdict::Crashed => EXIT_CRASHED,
        Verdict::Flat | Verdict::TooShort => EXIT_OK,
    })
}

fn print_summary(w: &Watch) -> std::io::Result<()> {
    let j = &w.judgement;
    outln!(
        "watched {} (pid {}) for {:.1} s: {} samples every {}; {}",
        command_line(&w.program),
        w.pid,
        w.elapsed_secs,
        w.samples.len(),
        seconds(w.interval_secs),
        w.ending.text()
    )?;
    let (first, last) = (w.samples.first(), w.samples.last());
    let peak = w.samples.iter().map(|s| s.rss_bytes).max();
    if let (Some(first), Some(last), Some(peak)) = (first, last, peak) {
        let teardown = if j.teardown > 0 {
            format!(
                " ({} sample{} taken as it exited left out)",
                j.teardown,
                if j.teardown == 1 { "" } else { "s" }
            )
        } else {
            String::new()
        };
        outln!(
            "  RSS   {} -> {} (peak {}); fitted after {}: {}{}",
            bytes(first.rss_bytes),
            bytes(last.rss_bytes),
            bytes(peak),
            seconds(w.warmup_secs),
            fit_text(&j.rss),
            teardown
        )?;
        let most = w.samples.iter().map(|s| s.processes).max().unwrap_or(1);
        let shim = w.samples.iter().map(|s| s.shim_bytes).max().unwrap_or(0);
        let mut about = Vec::new();
        if most > 1 || w.processes.len() > 1 {
            about.push(format!(
                "summed over the program's tree: {} processes seen, at most {most} at once",
                w.processes.len()
            ));
        }
        if shim > 0 {
            about.push(format!(
                "the shim's own side table (up to {}) left out",
                bytes(shim)
            ));
        }
        if !about.is_empty() {
            outln!("        (RSS: {})", about.join("; "))?;
        }
    }
    // One process: the lines above are its own.
    for g in j.growers.iter().filter(|_| w.processes.len() > 1) {
        outln!(
            "  grows: pid {} ({}): RSS {}{}",
            g.pid,
            command_text(&g.command),
            rate(g.rss_slope),
            g.heap_slope
                .map_or(String::new(), |h| format!(", heap {}", rate(h)))
        )?;
    }
    if let Some(oom) = &j.out_of_memory {
        outln!("  out of memory: {oom}")?;
    }
    if let Some(crash) = &j.crash {
        outln!("  crash: {crash}")?;
    }
    match (j.heap, w.samples.iter().rev().find_map(|s| s.heap)) {
        (Some(heap), Some(last)) => {
            outln!(
                "  heap  {} in {} live blocks at the end: {} (the malloc heap of every \
                 process the shim entered; in a Rust program it includes Rust's own allocations)",
                bytes(last.bytes.max(0) as u64),
                last.blocks,
                fit_text(&heap)
            )?;
        }
        _ => outln!("  {}", w.heap.note)?,
    }
    if let Some(per) = &w.per {
        outln!("  {}", per_text(per))?;
    }
    match (&w.sites, &w.sites_note) {
        (Some(sites), _) => {
            for line in sites.lines(TOP_SITES) {
                outln!("  {line}")?;
            }
        }
        // Without the heap, its line above says why; one line is enough.
        (None, Some(note)) if w.heap.seen => outln!("  {note}")?,
        (None, _) => {}
    }
    outln!("verdict: {} ({})", j.verdict.as_str(), reason(w))
}

/// Growing sites the summary names (--json has every site).
const TOP_SITES: usize = 10;

/// "requests (/^request/): 1000 lines, 200/s; the heap keeps 1.0 blocks /
/// 100 B per request".
fn per_text(per: &watch::PerRequest) -> String {
    let rate = match per.rate {
        Some(r) if r.determined => format!(", {:.1}/s", r.slope),
        _ => String::new(),
    };
    let kept = match (per.heap_blocks_per_request, per.heap_bytes_per_request) {
        (Some(blocks), Some(b)) => format!(
            "; the heap keeps {blocks:.1} blocks / {} per request",
            if b < 0.0 {
                format!("-{}", bytes((-b).round() as u64))
            } else {
                bytes(b.round() as u64)
            }
        ),
        _ if per.requests == 0 => "; no line matched: nothing to divide by".into(),
        _ if !per.rate.is_some_and(|r| r.determined && r.slope > 0.0) => {
            "; too few requests after the warm-up to divide by: undecided".into()
        }
        _ => "; the heap is not seen (above): nothing to divide".into(),
    };
    format!(
        "requests (/{}/): {} lines{rate}{kept}",
        per.pattern, per.requests
    )
}

/// The program and its arguments on one short line: arguments with spaces
/// or quotes single-quoted, newlines as `\n`, cut at [`COMMAND_CHARS`].
fn command_line(program: &[String]) -> String {
    let words: Vec<String> = program
        .iter()
        .map(|a| {
            let a = a.replace('\n', "\\n");
            if a.is_empty()
                || a.contains(|c: char| c.is_whitespace() || "'\"$`\\;|&<>()*?".contains(c))
            {
                format!("'{}'", a.replace('\'', "'\\''"))
            } else {
                a
            }
        })
        .collect();
    let line = words.join(" ");
    match line.char_indices().nth(COMMAND_CHARS) {
        Some((cut, _)) => format!("{}...", &line[..cut]),
        None => line,
    }
}

/// A process's command line (words joined by spaces), cut as
/// [`command_line`] cuts.
fn command_text(command: &str) -> String {
    let line = command.replace('\n', "\\n");
    match line.char_indices().nth(COMMAND_CHARS) {
        Some((cut, _)) => format!("{}...", &line[..cut]),
        None => line,
    }
}

/// The longest command line the summary shows.
const COMMAND_CHARS: usize = 60;

/// Why the verdict is what it is, in a few words.
fn reason(w: &Watch) -> String {
    let j = &w.judgement;
    match j.verdict {
        Verdict::TooShort => format!(
            "{} samples after the {} warm-up; a trend needs {}",
            j.fitted,
            seconds(w.warmup_secs),
            watch::judge::MIN_POINTS
        ),
        Verdict::Crashed => format!(
            "{}; no growth seen before it",
            j.crash.as_deref().unwrap_or("a crash")
        ),
        Verdict::Grows => {
            let mut why = Vec::new();
            if let Some(oom) = &j.out_of_memory {
                why.push(format!("out of memory: {oom}"));
            }
            if j.rss_grows {
                why.push(format!(
                    "RSS climbs {} over {:.1} s (the bar: {})",
                    rate(j.rss.slope),
                    j.span_secs,
                    rate(j.rss_min_slope)
                ));
            }
            if j.heap_grows
                && let Some(h) = j.heap
            {
                why.push(format!("the heap climbs {}", rate(h.slope)));
            }
            if let Some(g) = j.growers.first()
                && (why.is_empty() || w.processes.len() > 1)
            {
                why.push(format!("pid {} grows", g.pid));
            }
            why.join("; ")
        }
        Verdict::Flat => format!(
            "no steady climb: RSS needs {} with R² >= {} over {:.1} s",
            rate(j.rss_min_slope),
            crate::fit::MIN_R_SQUARED,
            j.span_secs
        ),
    }
}

/// "+1.0 MiB/s, R² 0.99".
fn fit_text(f: &Fit) -> String {
    if !f.determined {
        return "no line (too few samples)".into();
    }
    format!("{}, R² {:.2}", rate(f.slope), f.r_squared)
}

/// "+1.0 MiB/s", "-512 B/s".
fn rate(slope: f64) -> String {
    let sign = if slope < 0.0 { "-" } else { "+" };
    format!("{sign}{}/s", bytes(slope.abs().round() as u64))
}

/// "100 ms", "1.5 s".
fn seconds(secs: f64) -> String {
    if secs < 1.0 {
        format!("{:.0} ms", secs * 1000.0)
    } else {
        format!("{secs:.1} s")
    }
}

/// Growing sites drawn beside RSS and the heap.
const PLOTTED_SITES: usize = 4;

/// A source file's name and its directory, no more.
fn short_file(path: &str) -> &str {
    let mut cuts = path.rmatch_indices('/').map(|(i, _)| i);
    match (cuts.next(), cuts.next()) {
        (Some(_), Some(i)) => &path[i + 1..],
        _ => path,
    }
}

/// RSS and heap growth since the first fitted sample, against seconds,
/// and the steepest growing sites' live bytes since their first.
fn plot_svg(w: &Watch) -> String {
    let fitted: Vec<_> = w.samples.iter().filter(|s| s.t >= w.warmup_secs).collect();
    let growth = |value: &dyn Fn(&watch::sample::Sample) -> Option<f64>| -> Vec<(f64, f64)> {
        let points: Vec<(f64, f64)> = fitted
            .iter()
            .filter_map(|s| value(s).map(|v| (s.t, v)))
            .collect();
        let base = points.first().map_or(0.0, |p| p.1);
        points.into_iter().map(|(t, v)| (t, v - base)).collect()
    };
    let rss = growth(&|s| Some(s.rss_bytes as f64));
    let heap = growth(&|s| s.heap.map(|h| h.bytes as f64));
    let j = &w.judgement;
    let rss_label = format!("RSS: {}", fit_text(&j.rss));
    let heap_label = j.heap.map(|h| format!("malloc heap: {}", fit_text(&h)));
    let mut series: Vec<(&str, &[(f64, f64)])> = vec![(&rss_label, &rss)];
    if let Some(label) = &heap_label {
        series.push((label, &heap));
    }
    // The steepest growing sites beside them, each from its first point.
    let sites: Vec<(String, Vec<(f64, f64)>)> = w
        .sites
        .iter()
        .flat_map(|s| &s.sites)
        .filter(|s| s.grows && !s.series.is_empty())
        .take(PLOTTED_SITES)
        .map(|s| {
            let base = s.series[0].1;
            let name = s.function.as_deref().unwrap_or("?");
            let at = match (&s.file, s.line) {
                (Some(file), Some(line)) => format!(" at {}:{line}", short_file(file)),
                _ => String::new(),
            };
            let label = format!("site {name}{at}: {}", fit_text(&s.fit));
            (
                label,
                s.series.iter().map(|&(t, b)| (t, b - base)).collect(),
            )
        })
        .collect();
    for (label, points) in &sites {
        series.push((label, points));
    }
    let title = format!(
        "{}: {} (memory over time, after {} warm-up)",
        w.program.first().map_or("program", String::as_str),
        j.verdict.as_str(),
        seconds(w.warmup_secs)
    );
    crate::plot::growth_svg_against(&title, "seconds", &series)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_seconds_read_as_a_person_writes_them() {
        assert_eq!(rate(1_048_576.0), "+1.0 MiB/s");
        assert_eq!(rate(-512.0), "-512 B/s");
        assert_eq!(seconds(0.1), "100 ms");
        assert_eq!(seconds(2.5), "2.5 s");
    }

    #[test]
    fn command_lines_are_one_short_quoted_line() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            command_line(&args(&["./server", "--port", "80"])),
            "./server --port 80"
        );
        assert_eq!(
            command_line(&args(&["python3", "-c", "import os\nprint('x')"])),
            "python3 -c 'import os\\nprint('\\''x'\\'')'"
        );
        let long = command_line(&args(&["sh", "-c", &"x".repeat(200)]));
        assert!(
            long.ends_with("...") && long.chars().count() == COMMAND_CHARS + 3,
            "{long}"
        );
    }
}

//! Argument definitions (clap) of `leaklab` / `cargo leaklab`, and the
//! parsers every leaklab command line shares (durations, sizes, one-line
//! errors).

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "leaklab",
    version,
    about = "Find memory leaks in anyone's code: which test leaks (test), does a program grow (watch)",
    arg_required_else_help = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run any program and tell whether its memory grows: RSS (and its
    /// malloc heap, where the preload shim loads) over time, fitted.
    Watch(WatchArgs),
    /// Run a crate's tests (through cargo-nextest), each in its own
    /// process under a leak detector: which test lost what, on which side.
    /// Installed as `cargo leaklab test`.
    Test(TestArgs),
    /// Build a package's binary (or example) with cargo, run it once
    /// under a leak detector, and tell what it lost at exit, on which
    /// side. Installed as `cargo leaklab run`.
    Run(RunArgs),
    #[command(name = "__test-runner", hide = true)]
    TestRunner(TestRunnerArgs),
    /// binutils' `addr2line -a -f -i -C -e FILE` server, for the symbolizer.
    #[command(name = "__addr2line", hide = true, disable_version_flag = true)]
    Addr2line(Addr2lineArgs),
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Time between two samples, e.g. 100ms, 1s.
    #[arg(long, default_value = "100ms", value_parser = parse_duration)]
    pub interval: Duration,
    /// Stop the program after this long (SIGTERM, then SIGKILL 1 s later).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Samples of the program's first moments, left out of the fit
    /// (start-up is a step, not a trend). With --per, counted from the
    /// first request line instead: what comes before it is start-up.
    #[arg(long, default_value = "500ms", value_parser = parse_duration_or_zero)]
    pub warmup: Duration,
    /// Cap the program's memory, e.g. 512M, 2G: each process's address
    /// space (RLIMIT_AS, so an allocation past it fails) and the tree's RSS
    /// (the watch stops it there). Reaching it, or running out of memory,
    /// is growth.
    #[arg(long, value_name = "SIZE", value_parser = parse_watch_mem_cap)]
    pub mem_cap: Option<u64>,
    /// Draw memory over time into this SVG file.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Do not count allocation sites (the shim then walks no stacks).
    #[arg(long)]
    pub no_sites: bool,
    /// Keep Python's own small-object allocator (pymalloc). By default a
    /// Python interpreter runs with PYTHONMALLOC=malloc, so that its
    /// objects are malloc blocks the heap line and the sites see.
    #[arg(long)]
    pub keep_pymalloc: bool,
    /// Walk the stack of one allocation per SIZE bytes on average
    /// (Poisson sampling by bytes: each site's blocks and bytes are
    /// unbiased estimates), or of every allocation with 0 (exact counts, at
    /// 2-3 µs per allocation: an allocation-heavy program runs ~20x
    /// slower).
    #[arg(long, value_name = "SIZE", default_value = "4K", value_parser = parse_size_or_zero)]
    pub sites_sample: u64,
    /// Count the program's output lines matching this regular expression
    /// as requests, and report the memory kept per request (memory fitted
    /// against the requests counted). Start-up lasts until the first one.
    #[arg(long, value_name = "REGEX", value_parser = parse_regex)]
    pub per: Option<regex::Regex>,
    /// Also print the top growing sites every DURATION while the program
    /// runs (to standard error).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub every: Option<Duration>,
    /// Print one JSON object (the program's own stdout goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// The program and its arguments, after `--`.
    #[arg(last = true, required = true, num_args = 1.., value_parser = clap::value_parser!(OsString))]
    pub program: Vec<OsString>,
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// counters (the preload shim's malloc count at exit; memcheck names
    /// the sides of what a test kept), valgrind (memcheck on every test),
    /// or lsan (LeakSanitizer, nightly).
    #[arg(long, value_enum, default_value = "counters")]
    pub detector: crate::suite::Detector,
    /// Leak kinds that fail the run besides lost (definite + indirect): a
    /// comma list of possible, reachable. Memory errors (invalid reads
    /// and writes, bad frees, uninitialised values) fail it too unless the
    /// list has no-errors.
    #[arg(long, default_value = "lost", value_parser = crate::suite::report::FailOn::parse)]
    pub fail_on: crate::suite::report::FailOn,
    /// Tests run at once (default: every core).
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
    /// Write memcheck suppressions for every lost record found.
    #[arg(long, value_name = "FILE")]
    pub gen_suppressions: Option<PathBuf>,
    /// Read these suppressions (memcheck's format; LeakSanitizer's for
    /// --detector lsan); may be given more than once.
    #[arg(long, value_name = "FILE")]
    pub suppressions: Vec<PathBuf>,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Per-test time limit in seconds under the chosen detector (0: none);
    /// a test still running then is stopped and shown as TIMED OUT.
    /// Default: 120 natively, 600 under --detector valgrind (a counters'
    /// re-run under memcheck gets 5 times the limit).
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// Do not run the doctests (`cargo test --doc` under the detector,
    /// after nextest's run); they are counted and named as not run.
    #[arg(long)]
    pub no_doctests: bool,
    /// --detector valgrind: one memcheck process per test, as nextest
    /// runs them, instead of one per test binary (its tests one at a time,
    /// each loss record and memory error blamed on the test whose frame is
    /// on its stack). Slower; what the per-binary run cannot place falls
    /// back to it anyway.
    #[arg(long)]
    pub memcheck_per_test: bool,
    /// Passed to `cargo nextest run`: -p, --features, --release, test
    /// filters, --partition, and `-- ARGS` for the test binaries.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_parser = clap::value_parser!(OsString))]
    pub nextest_args: Vec<OsString>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// counters (the preload shim's scan of the malloc heap at exit, lost
    /// blocks named by their allocation sites, walked in the same run) or
    /// valgrind (one run under memcheck).
    #[arg(long, value_enum, default_value = "counters")]
    pub detector: crate::run::Detector,
    /// The binary target to run (default: the package's only binary, or
    /// its default-run).
    #[arg(long, value_name = "NAME", conflicts_with = "example")]
    pub bin: Option<String>,
    /// The example to run.
    #[arg(long, value_name = "NAME")]
    pub example: Option<String>,
    /// Package to build (cargo's -p).
    #[arg(long, short = 'p', value_name = "SPEC")]
    pub package: Option<String>,
    /// Build with the release profile.
    #[arg(long, short = 'r')]
    pub release: bool,
    /// Build with this profile.
    #[arg(long, value_name = "NAME", conflicts_with = "release")]
    pub profile: Option<String>,
    /// Features to enable (cargo's --features); may be repeated.
    #[arg(long, short = 'F', value_name = "FEATURES")]
    pub features: Vec<String>,
    #[arg(long)]
    pub all_features: bool,
    #[arg(long)]
    pub no_default_features: bool,
    /// The package's Cargo.toml.
    #[arg(long, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,
    /// cargo's target directory.
    #[arg(long, value_name = "DIR")]
    pub target_dir: Option<PathBuf>,
    /// Read these memcheck suppressions too; may be given more than once.
    #[arg(long, value_name = "FILE")]
    pub suppressions: Vec<PathBuf>,
    /// counters: do not walk every allocation's stack (about 4 µs each);
    /// if the program lost memory, memcheck runs it again, without its
    /// input and output, for the sides and stacks.
    #[arg(long)]
    pub no_sites: bool,
    /// Print one JSON object (the program's own stdout goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// The program's arguments, after `--`.
    #[arg(last = true, value_parser = clap::value_parser!(OsString))]
    pub args: Vec<OsString>,
}

#[derive(Debug, Args)]
pub struct TestRunnerArgs {
    pub binary: PathBuf,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_parser = clap::value_parser!(OsString))]
    pub args: Vec<OsString>,
}

#[derive(Debug, Args)]
pub struct Addr2lineArgs {
    /// The object whose addresses come on standard input.
    #[arg(short = 'e')]
    pub exe: Option<PathBuf>,
    /// binutils' flags, all implied: addresses, functions, inlined frames,
    /// demangled names.
    #[arg(short = 'a')]
    pub addresses: bool,
    #[arg(short = 'f')]
    pub functions: bool,
    #[arg(short = 'i')]
    pub inlines: bool,
    #[arg(short = 'C')]
    pub demangle: bool,
    /// Prints a version, as binutils' does (the symbolizer's probe).
    #[arg(long)]
    pub version: bool,
}

/// "100ms", "3s", "1.5s", "2m" → a duration above zero.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let d = parse_duration_or_zero(text)?;
    if d.is_zero() {
        return Err(format!("'{text}' is not a duration above zero"));
    }
    Ok(d)
}

/// [`parse_duration`], zero allowed ("0s").
pub fn parse_duration_or_zero(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let seconds_per_unit = match unit {
        "ms" => 1e-3,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => {
            return Err(format!(
                "'{text}' is not a duration (use e.g. 100ms, 3s, 2m)"
            ));
        }
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a duration (use e.g. 100ms, 3s, 2m)"))?;
    Duration::try_from_secs_f64(value * seconds_per_unit)
        .map_err(|_| format!("'{text}' is out of range"))
}

/// "512M", "2G", "1048576" → bytes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (digits, multiplier) = match text.char_indices().last() {
        Some((i, 'K' | 'k')) => (&text[..i], 1u64 << 10),
        Some((i, 'M' | 'm')) => (&text[..i], 1 << 20),
        Some((i, 'G' | 'g')) => (&text[..i], 1 << 30),
        _ => (text, 1),
    };
    let value: u64 = digits
        .parse()
        .map_err(|_| format!("'{text}' is not a size (use e.g. 512M or 2G)"))?;
    value
        .checked_mul(multiplier)
        .filter(|&v| v > 0)
        .ok_or_else(|| format!("'{text}' is out of range"))
}

/// The smallest `--mem-cap` for `watch`: the address space a dynamically
/// linked program needs to start at all (with the shim's publisher thread
/// and its 8 MiB stack), with room to spare.
pub const MIN_WATCH_MEM_CAP: u64 = 64 << 20;

/// A size for `watch --mem-cap`, refused below [`MIN_WATCH_MEM_CAP`].
pub fn parse_watch_mem_cap(text: &str) -> Result<u64, String> {
    let cap = parse_size(text)?;
    if cap < MIN_WATCH_MEM_CAP {
        return Err(format!(
            "--mem-cap {text}: a program needs at least {}M of address space to start",
            MIN_WATCH_MEM_CAP >> 20
        ));
    }
    Ok(cap)
}

/// Parses the process arguments. Help and version print as usual (exit 0;
/// a stdout that cannot be written is one line and exit 3); a bare
/// command prints the usage on stderr (exit 2); any other error is one
/// line on stderr naming what is wrong, and exit code 2.
pub fn parse<C: Parser>(argv: Vec<OsString>) -> Result<C, i32> {
    let name = C::command().get_name().to_owned();
    let argv = if argv.get(1).is_some_and(|a| a == "test") {
        hoist_test_options(argv)
    } else {
        argv
    };
    match C::try_parse_from(argv) {
        Ok(cli) => Ok(cli),
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            Err(super::EXIT_USAGE)
        }
        Err(e) if !e.use_stderr() => match e.print() {
            Err(io) if io.kind() != std::io::ErrorKind::BrokenPipe => {
                eprintln!("{name}: cannot write to standard output: {io}");
                Err(super::EXIT_OUTPUT)
            }
            _ => Err(super::EXIT_OK),
        },
        Err(e) => {
            eprintln!(
                "{name}: {} (see {name} --help)",
                one_line(&e.render().to_string())
            );
            Err(super::EXIT_USAGE)
        }
    }
}

/// `leaklab test`'s own options, and whether each takes a value.
const TEST_OPTIONS: [(&str, bool); 10] = [
    ("--no-doctests", false),
    ("--memcheck-per-test", false),
    ("--detector", true),
    ("--fail-on", true),
    ("--jobs", true),
    ("-j", true),
    ("--gen-suppressions", true),
    ("--suppressions", true),
    ("--json", false),
    ("--timeout", true),
];

/// `leaklab test ARGS` with leaklab's own options moved before the first
/// argument that is not one of them, so that they are leaklab's wherever
/// they are on the line (`--release --detector valgrind`, `-p beta
/// --json`), never handed to cargo-nextest, which would refuse them. After
/// a lone `--` the arguments are the test binaries' and stay where they
/// are.
pub fn hoist_test_options(argv: Vec<OsString>) -> Vec<OsString> {
    let mut head: Vec<OsString> = argv.iter().take(2).cloned().collect();
    let mut ours = Vec::new();
    let mut rest = Vec::new();
    let mut args = argv.into_iter().skip(2);
    while let Some(arg) = args.next() {
        if arg == "--" {
            rest.push(arg);
            rest.extend(args.by_ref());
            break;
        }
        let text = arg.to_string_lossy().into_owned();
        let found = TEST_OPTIONS.iter().find(|(name, _)| {
            text == *name
                || (name.starts_with("--") && text.starts_with(&format!("{name}=")))
                // -j4
                || (*name == "-j" && text.len() > 2 && text.starts_with("-j"))
        });
        match found {
            Some((name, true)) if text == *name => {
                ours.push(arg);
                ours.extend(args.next());
            }
            Some(_) => ours.push(arg),
            None => rest.push(arg),
        }
    }
    head.extend(ours);
    head.extend(rest);
    head
}

/// clap's error as one line: its first line, and when that line ends in
/// ':' (a list of missing arguments follows), the listed items after it.
fn one_line(rendered: &str) -> String {
    let mut lines = rendered.lines();
    let first = lines.next().unwrap_or("invalid arguments");
    let first = first.strip_prefix("error: ").unwrap_or(first).trim_end();
    if !first.ends_with(':') {
        return first.to_string();
    }
    let items: Vec<&str> = lines
        .take_while(|line| line.starts_with(' '))
        .map(str::trim)
        .collect();
    format!("{first} {}", items.join(", "))
}

/// A size, or 0 (for `watch --sites-sample`: no sampling).
fn parse_size_or_zero(text: &str) -> Result<u64, String> {
    if text.trim() == "0" {
        return Ok(0);
    }
    parse_size(text)
}

/// A regular expression for `watch --per`.
fn parse_regex(text: &str) -> Result<regex::Regex, String> {
    regex::Regex::new(text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn leaklab_s_test_options_are_moved_before_nextest_s_but_not_past_the_separator() {
        assert_eq!(
            hoist_test_options(args(&[
                "leaklab",
                "test",
                "--release",
                "--detector",
                "valgrind",
                "-p",
                "beta",
                "--json",
                "--fail-on=possible",
                "-j4",
                "--",
                "--json",
            ])),
            args(&[
                "leaklab",
                "test",
                "--detector",
                "valgrind",
                "--json",
                "--fail-on=possible",
                "-j4",
                "--release",
                "-p",
                "beta",
                "--",
                "--json",
            ])
        );
        let plain = args(&["leaklab", "test", "--json", "-E", "test(x)"]);
        assert_eq!(hoist_test_options(plain.clone()), plain);
    }
}

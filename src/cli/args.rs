//! Argument definitions (clap).

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use super::detectors::Detector;
use crate::scenarios::{BackendChoice, Variant};

#[derive(Debug, Parser)]
#[command(
    name = "leaklab",
    version,
    about = "Reproduce, measure and explain memory leaks across a Rust/C boundary",
    arg_required_else_help = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List every scenario.
    List(ListArgs),
    /// Origin, pattern, expected leak, fix, and the leaky and safe code side by side.
    Explain(ExplainArgs),
    /// Run one scenario in a child process and measure what it leaks.
    Run(RunArgs),
    /// Run every scenario, both variants: expected versus observed.
    Matrix(MatrixArgs),
    /// Fail the 1st, 2nd, 3rd ... C allocation in turn: which error paths leak?
    Faults(FaultsArgs),
    /// Run any program and tell whether its memory grows: RSS (and its
    /// malloc heap, where the preload shim loads) over time, fitted.
    Watch(WatchArgs),
    /// Run a crate's tests (through cargo-nextest), each in its own
    /// process under a leak detector: which test lost what, on which side.
    /// Installed as `cargo leaklab test`.
    Test(TestArgs),
    #[command(name = "__test-runner", hide = true)]
    TestRunner(TestRunnerArgs),
    #[command(name = "__child", hide = true)]
    Child(ChildArgs),
    #[command(name = "__faults-child", hide = true)]
    FaultsChild(FaultsChildArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    pub scenario: String,
}

/// Which variants to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum VariantChoice {
    Leaky,
    Safe,
    Both,
}

impl VariantChoice {
    pub fn variants(self) -> Vec<Variant> {
        match self {
            VariantChoice::Leaky => vec![Variant::Leaky],
            VariantChoice::Safe => vec![Variant::Safe],
            VariantChoice::Both => vec![Variant::Leaky, Variant::Safe],
        }
    }
}

/// Limits shared by every command that starts children.
#[derive(Debug, Clone, Args)]
pub struct LimitArgs {
    /// Address-space cap of each child, e.g. 512M, 2G (at least 64M).
    #[arg(long, default_value = "1G", value_parser = parse_mem_cap)]
    pub mem_cap: u64,
    /// Seconds a child may run before it is killed.
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..))]
    pub time_limit: u64,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    pub scenario: String,
    #[arg(long, value_enum, default_value_t = VariantChoice::Both)]
    pub variant: VariantChoice,
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub iterations: u64,
    /// Connector backend for the safe variant (default: the scenario's).
    #[arg(long, value_enum)]
    pub backend: Option<BackendChoice>,
    /// Print the result records as JSON.
    #[arg(long)]
    pub json: bool,
    /// Which detector observes the run.
    #[arg(long, value_enum, default_value_t = Detector::Counters)]
    pub detector: Detector,
    /// With the growth detector: draw memory against iterations, leaky and
    /// safe, into this SVG file.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    #[command(flatten)]
    pub limits: LimitArgs,
}

#[derive(Debug, Args)]
pub struct MatrixArgs {
    /// Iterations per cell for the counters (and the detectors without
    /// their own setting below).
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..))]
    pub iterations: u64,
    /// Detectors, one column each.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "counters")]
    pub detectors: Vec<Detector>,
    /// Iterations per cell for the growth detector (RSS needs many).
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(2..))]
    pub growth_iterations: u64,
    /// Iterations per cell under valgrind and LeakSanitizer (slow).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
    pub tool_iterations: u64,
    #[arg(long)]
    pub json: bool,
    /// Write one self-contained HTML page with the table and growth plots.
    #[arg(long)]
    pub html: Option<PathBuf>,
    #[command(flatten)]
    pub limits: LimitArgs,
}

#[derive(Debug, Args)]
pub struct FaultsArgs {
    pub scenario: String,
    #[arg(long, value_enum, default_value_t = VariantChoice::Both)]
    pub variant: VariantChoice,
    /// Connector backend for the safe variant (default: the scenario's).
    #[arg(long, value_enum)]
    pub backend: Option<BackendChoice>,
    /// Print the sweep reports as JSON (every point included).
    #[arg(long)]
    pub json: bool,
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
    /// (start-up is a step, not a trend).
    #[arg(long, default_value = "500ms", value_parser = parse_duration_or_zero)]
    pub warmup: Duration,
    /// Draw memory over time into this SVG file.
    #[arg(long)]
    pub plot: Option<PathBuf>,
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
    /// comma list of possible, reachable.
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
    /// Passed to `cargo nextest run`: -p, --features, --release, test
    /// filters, --partition, and `-- ARGS` for the test binaries.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_parser = clap::value_parser!(OsString))]
    pub nextest_args: Vec<OsString>,
}

#[derive(Debug, Args)]
pub struct TestRunnerArgs {
    pub binary: PathBuf,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_parser = clap::value_parser!(OsString))]
    pub args: Vec<OsString>,
}

#[derive(Debug, Args)]
pub struct FaultsChildArgs {
    pub scenario: String,
    #[arg(value_enum)]
    pub variant: Variant,
    #[arg(value_enum)]
    pub backend: BackendChoice,
}

#[derive(Debug, Args)]
pub struct ChildArgs {
    pub scenario: String,
    #[arg(value_enum)]
    pub variant: Variant,
    #[arg(value_enum)]
    pub backend: BackendChoice,
    pub iterations: u64,
    pub sample_every: u64,
    pub record: PathBuf,
    /// Record allocation stacks of what the run kept.
    #[arg(long)]
    pub stacks: bool,
}

/// The smallest `--mem-cap`: the address space a child needs to start and
/// run one iteration of any scenario, with room to spare. Measured (the
/// smallest RLIMIT_AS under which a child completes): between 40 and
/// 48 MiB for the debug build, since the binary links libxml2 and with it
/// ICU's 30 MiB data library; below that the dynamic loader or the first
/// allocation fails and every child dies (SIGSEGV, exit 127).
pub const MIN_MEM_CAP: u64 = 64 << 20;

/// A size for `--mem-cap`, refused below [`MIN_MEM_CAP`].
pub fn parse_mem_cap(text: &str) -> Result<u64, String> {
    let cap = parse_size(text)?;
    if cap < MIN_MEM_CAP {
        return Err(format!(
            "a child needs at least {}M of address space to start",
            MIN_MEM_CAP >> 20
        ));
    }
    Ok(cap)
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

/// Parses the process arguments. Help and version print as usual (exit 0;
/// a stdout that cannot be written is one line and exit 3); a bare
/// `leaklab` prints the usage on stderr (exit 2); any other error is one
/// line on stderr naming what is wrong, and exit code 2.
pub fn parse(argv: Vec<OsString>) -> Result<Cli, i32> {
    match Cli::try_parse_from(argv) {
        Ok(cli) => Ok(cli),
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            Err(super::EXIT_USAGE)
        }
        Err(e) if !e.use_stderr() => match e.print() {
            Err(io) if io.kind() != std::io::ErrorKind::BrokenPipe => {
                eprintln!("leaklab: cannot write to standard output: {io}");
                Err(super::EXIT_OUTPUT)
            }
            _ => Err(super::EXIT_OK),
        },
        Err(e) => {
            eprintln!(
                "leaklab: {} (see leaklab --help)",
                one_line(&e.render().to_string())
            );
            Err(super::EXIT_USAGE)
        }
    }
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

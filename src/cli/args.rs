//! Argument definitions (clap).

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use cargo_leaklab::cli::args::parse_size;

use super::detectors::Detector;
use crate::scenarios::{BackendChoice, Variant};

#[derive(Debug, Parser)]
#[command(
    name = "leaklab-lab",
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
pub struct FaultsChildArgs {
    pub scenario: String,
    #[arg(value_enum)]
    pub variant: Variant,
    #[arg(value_enum)]
    pub backend: BackendChoice,
    /// The first point to run (the parent restarts a child after a crash).
    #[arg(long, default_value_t = 1)]
    pub from: u64,
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

/// Parses the process arguments (help, version and errors as every
/// leaklab command line treats them: [`cargo_leaklab::cli::args::parse`]).
pub fn parse(argv: Vec<OsString>) -> Result<Cli, i32> {
    cargo_leaklab::cli::args::parse(argv)
}

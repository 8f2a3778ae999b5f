//! `cargo leaklab test` (or `leaklab test`): the arguments to
//! [`crate::suite`], and its table, summary, JSON and exit code.

use super::args::TestArgs;
use super::{EXIT_USAGE, Failure};
use crate::suite::{self, Options, report};

pub fn run(a: TestArgs) -> Result<i32, Failure> {
    let opts = Options {
        detector: a.detector,
        nextest_args: a.nextest_args,
        jobs: a.jobs,
        suppressions: a.suppressions,
        gen_suppressions: a.gen_suppressions.is_some(),
        timeout: a.timeout,
        no_doctests: a.no_doctests,
        memcheck_per_test: a.memcheck_per_test,
        fail_on: a.fail_on,
    };
    if a.gen_suppressions.is_some() && a.detector == suite::Detector::Lsan {
        return Err(Failure::usage(
            "--gen-suppressions writes memcheck's suppressions: use it with --detector valgrind or counters",
        ));
    }
    if a.detector == suite::Detector::Counters && (a.fail_on.possible || a.fail_on.reachable) {
        return Err(Failure::usage(
            "--fail-on possible or reachable needs --detector valgrind: its suppressions keep the Rust runtime's own blocks out, which the counters' scan cannot",
        ));
    }
    let run = suite::run(&opts).map_err(|message| Failure {
        message,
        code: EXIT_USAGE,
    })?;
    let code = report::exit_code(&run, a.fail_on);
    if code == report::code::BUILD_FAILED {
        return Err(Failure {
            message: "the crate's tests did not build (cargo nextest's output above says why)"
                .into(),
            code,
        });
    }
    if code == report::code::NEXTEST_REFUSED {
        return Err(Failure {
            message: "cargo nextest refused the arguments passed to it (its message is above); nothing ran".into(),
            code,
        });
    }
    if let Some(path) = &a.gen_suppressions {
        let n = suite::write_suppressions(path, &run.records).map_err(Failure::usage)?;
        eprintln!("leaklab: {n} suppressions written to {}", path.display());
    }
    if a.json {
        let json = report::Json {
            detector: run.detector.name(),
            exit_code: code,
            tests: &run.records,
            not_run: report::unseen(&run),
            ignored: report::ignored(&run),
            empty_binaries: report::empty_binaries(&run),
            doctests: report::DoctestsJson::of(&run),
        };
        let text =
            serde_json::to_string_pretty(&json).map_err(|e| Failure::usage(e.to_string()))?;
        outln!("{text}")?;
    } else {
        outln!("{}", report::table(&run, a.fail_on))?;
        for line in report::summary(&run, a.fail_on) {
            outln!("{line}")?;
        }
    }
    Ok(code)
}

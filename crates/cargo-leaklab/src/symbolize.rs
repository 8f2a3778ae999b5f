//! `leaklab __addr2line -e FILE`: binutils' `addr2line -a -f -i -C -e
//! FILE` server protocol (hex addresses on standard input, each answered
//! with its address line, then a function line and a `file:line` line per
//! frame, inlined frames first), answered by the `addr2line` crate.
//!
//! It reads only what an address needs: the object's address ranges, then
//! the one compilation unit that holds it, parsed once and kept for the
//! next. binutils reads every unit's line table first: on an 83 MB test
//! binary, 6 s of CPU and 315 MB for a handful of addresses where this
//! takes a fraction of a second (BENCHMARKS.md). The user crate's
//! symbolizer (`leaklab::check::symbols`) speaks this protocol, so
//! `cargo leaklab test` and `leaklab watch` point it here.

use std::io::{self, BufRead, Write};
use std::path::Path;

/// The subcommand's name (hidden: it is leaklab's own helper).
pub const SUBCOMMAND: &str = "__addr2line";

/// Serves addresses of the object at `path` from `input` to `output`
/// until `input` ends. An object it cannot read answers every address
/// with `??` (as binutils does for one without debug information).
pub fn serve(path: &Path, input: impl BufRead, mut output: impl Write) -> io::Result<()> {
    let loader = addr2line::Loader::new(path).ok();
    for line in input.lines() {
        let line = line?;
        let text = line.trim();
        let Some(address) = text
            .strip_prefix("0x")
            .and_then(|hex| u64::from_str_radix(hex, 16).ok())
        else {
            continue;
        };
        writeln!(output, "{address:#018x}")?;
        // The last address (the user crate's end mark) is in no object,
        // and the crate's range arithmetic would overflow on it.
        let frames = loader
            .as_ref()
            .filter(|_| address != u64::MAX)
            .map(|l| frames(l, address))
            .unwrap_or_default();
        if frames.is_empty() {
            writeln!(output, "??\n??:0")?;
        }
        for (function, location) in frames {
            writeln!(output, "{function}\n{location}")?;
        }
        output.flush()?;
    }
    Ok(())
}

/// The frames at `address`, inlined ones first: each its function and
/// `file:line` (`??` where unknown); from the symbol table where the
/// object has no debug information for it.
fn frames(loader: &addr2line::Loader, address: u64) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Ok(mut iter) = loader.find_frames(address) {
        while let Ok(Some(frame)) = iter.next() {
            let function = frame
                .function
                .as_ref()
                .and_then(|f| f.demangle().ok())
                .map(|name| name.into_owned());
            let location = frame
                .location
                .as_ref()
                .and_then(|l| Some(format!("{}:{}", l.file?, l.line.unwrap_or(0))));
            if function.is_none() && location.is_none() {
                continue;
            }
            out.push((
                function.unwrap_or_else(|| "??".into()),
                location.unwrap_or_else(|| "??:0".into()),
            ));
        }
    }
    if out.iter().all(|(function, _)| function == "??")
        && let Some(name) = loader.find_symbol(address)
    {
        let name = addr2line::demangle_auto(name.into(), None).into_owned();
        match out.first_mut() {
            Some(first) => first.0 = name,
            None => out.push((name, "??:0".into())),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[inline(never)]
    fn here() -> usize {
        here as fn() -> usize as usize
    }

    #[test]
    fn answers_in_binutils_protocol_with_a_function_of_this_binary() {
        let exe = std::env::current_exe().unwrap();
        // This function's run-time address, less the executable's load
        // bias: the address its file speaks of.
        let objects = leaklab::check::loaded_objects();
        let own = objects
            .iter()
            .find(|o| o.path == exe)
            .expect("the executable");
        let address = here() - own.base;
        let question = format!("{address:#x}\n0xffffffffffffffff\n");
        let mut answer = Vec::new();
        serve(&exe, question.as_bytes(), &mut answer).unwrap();
        let answer = String::from_utf8(answer).unwrap();
        let lines: Vec<&str> = answer.lines().collect();
        assert_eq!(lines[0], format!("{address:#018x}"), "{answer}");
        assert!(lines[1].ends_with("symbolize::tests::here"), "{answer}");
        assert!(lines[2].contains("symbolize.rs:"), "{answer}");
        // The end mark the user crate asks for: no object holds it.
        assert_eq!(
            &lines[3..],
            ["0xffffffffffffffff", "??", "??:0"],
            "{answer}"
        );
    }
}

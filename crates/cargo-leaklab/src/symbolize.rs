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
//! `cargo leaklab test` and `leaklab watch` point it here, and
//! `cargo leaklab test`/`run` the processes they start ([`export_to`]).
//!
//! A stripped object (a system library) is read through its separate
//! debug file, found as GDB and binutils find it ([`debug_files`]), so
//! libc's internal functions (`__strlen_avx2`) keep their names.

use std::ffi::OsStr;
use std::io::{self, BufRead, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use object::Object;

/// The subcommand's name (hidden: it is leaklab's own helper).
pub const SUBCOMMAND: &str = "__addr2line";

/// Names this executable's `__addr2line` in `cmd`'s `LEAKLAB_ADDR2LINE`:
/// the symbolizer of the `leaklab::check` in the tests and programs
/// `cargo leaklab test`/`run` start. Not where the user named a tool, nor
/// where the executable's path has whitespace (the variable's words are
/// split at it).
pub fn export_to(cmd: &mut Command) {
    if std::env::var_os(leaklab::check::SYMBOL_TOOL_VAR).is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    if let Some(exe) = exe.to_str().filter(|e| !e.contains(char::is_whitespace)) {
        cmd.env(
            leaklab::check::SYMBOL_TOOL_VAR,
            format!("{exe} {SUBCOMMAND}"),
        );
    }
}

/// Serves addresses of the object at `path` from `input` to `output`
/// until `input` ends. An object it cannot read answers every address
/// with `??` (as binutils does for one without debug information).
pub fn serve(path: &Path, input: impl BufRead, mut output: impl Write) -> io::Result<()> {
    let loader = load(path);
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

/// The object's reader: through its separate debug file (with that
/// file's dwz supplement) where it has one, else the object itself.
fn load(path: &Path) -> Option<addr2line::Loader> {
    if let Some((debug, sup)) = debug_files(path) {
        // Without a supplement that fails to load, only the units that
        // refer to it lose their names: load the debug file alone then.
        let loader = match &sup {
            Some(sup) => addr2line::Loader::new_with_sup(&debug, Some(sup)).ok(),
            None => None,
        };
        if let Some(loader) = loader.or_else(|| addr2line::Loader::new(&debug).ok()) {
            return Some(loader);
        }
    }
    addr2line::Loader::new(path).ok()
}

/// Where separate debug files live (GDB's `debug-file-directory`);
/// `LEAKLAB_DEBUG_DIR` names another.
fn debug_dir() -> PathBuf {
    std::env::var_os("LEAKLAB_DEBUG_DIR").map_or_else(|| "/usr/lib/debug".into(), PathBuf::from)
}

/// The separate debug file of the object at `path`, and the dwz
/// supplementary file that one names (`.gnu_debugaltlink`), looked for as
/// GDB and binutils do: by build-id (`DIR/.build-id/xx/rest.debug`), then
/// by `.gnu_debuglink` (beside the object, in its `.debug/`, or under
/// `DIR` at the object's directory), that one checked by its CRC. None
/// for an object with its own DWARF (`.debug_info`), as for binutils: a
/// debug file would only be the same information again.
pub fn debug_files(path: &Path) -> Option<(PathBuf, Option<PathBuf>)> {
    // Only the headers and notes are read, not the whole (maybe 100 MB) file.
    let cache = object::ReadCache::new(std::fs::File::open(path).ok()?);
    let obj = object::File::parse(&cache).ok()?;
    if obj.section_by_name(".debug_info").is_some() {
        return None;
    }
    let dir = debug_dir();
    let id = obj.build_id().ok().flatten();
    let by_id = id
        .map(|id| build_id_path(&dir, id))
        .filter(|p| build_id_of(p).is_some_and(|found| Some(&*found) == id));
    let debug = by_id.or_else(|| {
        let (name, crc) = obj.gnu_debuglink().ok().flatten()?;
        let name = Path::new(OsStr::from_bytes(name));
        // The directory as named and as resolved (`/lib` is `/usr/lib`).
        let real = path.canonicalize().ok()?;
        let mut dirs = vec![path.parent()?, real.parent()?];
        dirs.dedup();
        dirs.iter()
            .flat_map(|here| {
                [
                    Some(here.join(name)),
                    Some(here.join(".debug").join(name)),
                    here.strip_prefix("/")
                        .ok()
                        .map(|rel| dir.join(rel).join(name)),
                ]
            })
            .flatten()
            .find(|p| p.canonicalize().ok().as_ref() != Some(&real) && crc32_of(p) == Some(crc))
    })?;
    let sup = altlink(&debug, &dir);
    Some((debug, sup))
}

/// `DIR/.build-id/xx/rest.debug` for a build-id `xxrest…` (hex).
fn build_id_path(dir: &Path, id: &[u8]) -> PathBuf {
    let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
    let (first, rest) = hex.split_at(2.min(hex.len()));
    dir.join(".build-id")
        .join(first)
        .join(format!("{rest}.debug"))
}

/// The build-id of the object at `path`, if it reads and has one.
fn build_id_of(path: &Path) -> Option<Vec<u8>> {
    let cache = object::ReadCache::new(std::fs::File::open(path).ok()?);
    let obj = object::File::parse(&cache).ok()?;
    obj.build_id().ok().flatten().map(<[u8]>::to_vec)
}

/// The CRC-32 `.gnu_debuglink` checks its file by, of the file at `path`.
fn crc32_of(path: &Path) -> Option<u32> {
    let mut file = std::fs::File::open(path).ok()?;
    let mut hasher = crc32fast::Hasher::new();
    let mut buf = vec![0; 1 << 16];
    loop {
        match file.read(&mut buf).ok()? {
            0 => return Some(hasher.finalize()),
            n => hasher.update(&buf[..n]),
        }
    }
}

/// The dwz supplementary file the debug file at `debug` names: its path
/// (relative ones from the debug file's directory), else by its build-id.
fn altlink(debug: &Path, dir: &Path) -> Option<PathBuf> {
    let cache = object::ReadCache::new(std::fs::File::open(debug).ok()?);
    let obj = object::File::parse(&cache).ok()?;
    let (name, id) = obj.gnu_debugaltlink().ok().flatten()?;
    let named = debug.parent()?.join(OsStr::from_bytes(name));
    [named, build_id_path(dir, id)]
        .into_iter()
        .find(|p| p.is_file())
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
    // The byte just before a symbol, in none: where an unwinder's step
    // back from a signal frame lands, on the padding glibc puts before its
    // trampoline `__restore_rt`. That frame is the trampoline (binutils
    // names the nearest symbol before, `sigaction`; callers know both).
    let next = || {
        loader
            .find_symbol_info(address.checked_add(1)?)
            .filter(|s| s.address() == address + 1)
            .map(|s| s.name())
    };
    if out.iter().all(|(function, _)| function == "??")
        && let Some(name) = loader.find_symbol(address).or_else(next)
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

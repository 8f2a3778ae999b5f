//! `leaklab __addr2line` against binutils' `addr2line` on the C library
//! this test runs with: an exported function is named from the library's
//! own dynamic symbols; a function it does not export (`__strlen_avx2`)
//! only from its separate debug file (Debian's `libc6-dbg`), found by
//! build-id or by `.gnu_debuglink`. Where that file is absent the test
//! says so on standard error and checks the exported function alone.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use object::{Object, ObjectSymbol};

/// The C library loaded in this process, if it is glibc's `libc.so.6`.
fn libc() -> Option<PathBuf> {
    leaklab::check::loaded_objects()
        .into_iter()
        .map(|o| o.path)
        .find(|p| p.file_name().is_some_and(|n| n == "libc.so.6"))
}

/// The function lines of the first frame of each answer of a tool
/// speaking binutils' protocol, for `addresses` of `file`.
fn first_functions(mut cmd: Command, file: &Path, addresses: &[u64]) -> Vec<String> {
    let question: String = addresses.iter().map(|a| format!("{a:#x}\n")).collect();
    let mut child = cmd
        .args(["-a", "-f", "-i", "-C", "-e"])
        .arg(file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the tool runs");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(question.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // The line after each address line is its first frame's function.
    lines
        .windows(2)
        .filter(|w| w[0].starts_with("0x"))
        .map(|w| w[1].to_owned())
        .collect()
}

fn ours() -> Command {
    let mut cmd = common::command(env!("CARGO_BIN_EXE_leaklab"));
    cmd.arg("__addr2line");
    cmd
}

fn binutils_present() -> bool {
    Command::new("addr2line")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok()
}

/// The address inside `name`'s code, from `symbols` (a symbol table).
fn address_of<'a>(
    mut symbols: impl Iterator<Item = object::Symbol<'a, 'a, &'a [u8]>>,
    name: &str,
) -> Option<u64> {
    symbols
        .find(|s| s.name() == Ok(name) && s.size() > 8)
        .map(|s| s.address() + 4)
}

#[test]
fn names_libc_functions_as_binutils_does_through_the_debug_file() {
    let Some(libc) = libc() else {
        eprintln!("SKIPPED: no glibc libc.so.6 loaded here; nothing checked");
        return;
    };
    let data = std::fs::read(&libc).unwrap();
    let lib = object::File::parse(&*data).unwrap();

    // Exported: `malloc`, from the library's own dynamic symbols. The
    // name is one of the symbols at that address (an alias may win).
    let malloc = address_of(lib.dynamic_symbols(), "malloc").expect("libc exports malloc");
    let aliases: Vec<String> = lib
        .dynamic_symbols()
        .filter(|s| s.address() <= malloc && malloc < s.address() + s.size())
        .filter_map(|s| s.name().ok().map(str::to_owned))
        .collect();
    let named = first_functions(ours(), &libc, &[malloc]);
    assert!(
        named.len() == 1 && named[0].contains("malloc"),
        "malloc at {malloc:#x} named {named:?} (symbols there: {aliases:?})"
    );

    // Not exported: from the debug file, where there is one.
    let Some((debug, _)) = cargo_leaklab::symbolize::debug_files(&libc) else {
        eprintln!(
            "\n*** NOT CHECKED: {} has no separate debug file here (install libc6-dbg): \
             a function libc does not export (__strlen_avx2) was not compared with \
             binutils; only the exported malloc was ***\n",
            libc.display()
        );
        return;
    };
    let debug_data = std::fs::read(&debug).unwrap();
    let debug_obj = object::File::parse(&*debug_data).unwrap();
    let exported = |name: &str| lib.dynamic_symbols().any(|s| s.name() == Ok(name));
    // `__strlen_avx2` where the build has it, else libc's allocator core.
    let (name, address) = ["__strlen_avx2", "_int_malloc"]
        .into_iter()
        .filter(|n| !exported(n))
        .find_map(|n| Some((n, address_of(debug_obj.symbols(), n)?)))
        .expect("the debug file names __strlen_avx2 or _int_malloc");
    let ours = first_functions(self::ours(), &libc, &[address, malloc]);
    assert_eq!(
        ours[0],
        name,
        "{name} at {address:#x} in {}",
        debug.display()
    );
    if binutils_present() {
        let theirs = first_functions(Command::new("addr2line"), &libc, &[address, malloc]);
        assert_eq!(
            ours, theirs,
            "ours, then binutils', at {address:#x} and {malloc:#x}"
        );
    } else {
        eprintln!("*** NOT CHECKED: no binutils addr2line to compare {name} with ***");
    }

    // The byte before the signal trampoline, where an unwinder's step back
    // from a signal frame lands: named after the trampoline (binutils: the
    // symbol before, `sigaction`), which `leaklab::check` cuts a crash's
    // stack at.
    if let Some(restore) = debug_obj
        .symbols()
        .find(|s| s.name() == Ok("__restore_rt"))
        .map(|s| s.address())
    {
        let named = first_functions(self::ours(), &libc, &[restore - 1]);
        assert_eq!(named, ["__restore_rt"], "at {:#x}", restore - 1);
    }

    // By `.gnu_debuglink` alone: a debug directory without the build-id
    // tree, holding the file under the library's directory, as GDB looks.
    if lib.gnu_debuglink().ok().flatten().is_some() {
        let (link, _) = lib.gnu_debuglink().unwrap().unwrap();
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("debuglink-dir");
        let _ = std::fs::remove_dir_all(&dir);
        let here = dir.join(libc.parent().unwrap().strip_prefix("/").unwrap());
        std::fs::create_dir_all(&here).unwrap();
        std::os::unix::fs::symlink(&debug, here.join(std::str::from_utf8(link).unwrap())).unwrap();
        let mut cmd = self::ours();
        cmd.env("LEAKLAB_DEBUG_DIR", &dir);
        let by_link = first_functions(cmd, &libc, &[address]);
        let mut cmd = self::ours();
        cmd.env("LEAKLAB_DEBUG_DIR", dir.join("none"));
        let without = first_functions(cmd, &libc, &[address]);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(by_link, [name], "by .gnu_debuglink under {}", dir.display());
        assert_ne!(without, [name], "no debug file: not named from one");
    }
}

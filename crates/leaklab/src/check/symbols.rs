//! Return addresses to functions and source lines, after the fact.
//!
//! Each address is placed in the loaded object that holds it (the
//! executable or a shared library, from `dl_iterate_phdr`), and resolved
//! by a tool speaking binutils' `addr2line -a -f -i -C -e FILE` server
//! protocol: binutils' `addr2line` (present wherever Rust links with the
//! system's `cc`; it reads all the debug information first, 6 s on an
//! 83 MB test binary, but follows a system library's separate debug
//! file), or the tool `LEAKLAB_ADDR2LINE` names. `leaklab watch` and
//! `cargo leaklab test`/`run` name their own for their own process
//! ([`use_tool`]: `leaklab __addr2line`, the `addr2line` crate, which
//! reads only the compilation units an address needs, and also follows
//! separate debug files), and set `LEAKLAB_ADDR2LINE` to it for the
//! processes they start. One tool process per object serves the whole
//! run, answering addresses on a pipe as they come, and each address is
//! resolved once per process: a fault sweep's hundred stacks share most
//! of their frames. Resolving this way keeps the DWARF reader out of the
//! user crate, and so out of every user's build. Where the tool is
//! missing, a frame names its object and offset instead, and says why.

use std::collections::HashMap;
use std::ffi::{CStr, c_int, c_void};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Mutex;

/// One frame of a resolved address: function (demangled), file, line.
pub type Symbol = (String, Option<String>, Option<u32>);

/// Names the address-to-line tool to run instead of `addr2line`: a
/// program, or a program and its first arguments separated by spaces
/// (`/path/to/leaklab __addr2line`).
pub const TOOL_VAR: &str = "LEAKLAB_ADDR2LINE";

/// A loaded object: its file and the address ranges it occupies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// Its file.
    pub path: PathBuf,
    /// Where it was loaded: what to take off a run-time address to get
    /// the address its file speaks of.
    pub base: usize,
    /// The run-time address ranges of its loaded segments.
    pub ranges: Vec<(usize, usize)>,
}

/// The symbols of each address (inlined frames first, as the tool gives
/// them). `addresses` are code addresses: return addresses already
/// stepped back into their call.
#[cfg_attr(miri, allow(dead_code))]
pub fn resolve(addresses: &[usize]) -> HashMap<usize, Vec<Symbol>> {
    resolve_in(&loaded_objects(), addresses)
}

/// `resolve` in another process's address space, given its objects (a
/// child that crashed, which listed them before).
pub fn resolve_in(objects: &[Object], addresses: &[usize]) -> HashMap<usize, Vec<Symbol>> {
    let mut by_object: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut out = HashMap::new();
    for &address in addresses {
        match objects.iter().position(|o| o.contains(address)) {
            Some(i) => by_object.entry(i).or_default().push(address),
            None => {
                out.insert(address, vec![(format!("??? ({address:#x})"), None, None)]);
            }
        }
    }
    for (i, addresses) in by_object {
        let object = &objects[i];
        let offsets: Vec<usize> = addresses.iter().map(|a| a - object.base).collect();
        let mut symbols = run_tool(&object.path, &offsets);
        for (address, offset) in addresses.iter().zip(&offsets) {
            let found = symbols.remove(offset).unwrap_or_default();
            let found = if found.is_empty() {
                vec![(unnamed(object, *offset), None, None)]
            } else {
                found
            };
            out.insert(*address, found);
        }
    }
    out
}

impl Object {
    fn contains(&self, address: usize) -> bool {
        self.ranges
            .iter()
            .any(|&(start, end)| (start..end).contains(&address))
    }
}

/// "libfoo.so+0x1234 (no addr2line: …)": a frame the tool did not name.
fn unnamed(object: &Object, offset: usize) -> String {
    let name = object.path.file_name().map_or_else(
        || object.path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    match tool_missing() {
        Some(why) => format!("{name}+{offset:#x} ({why})"),
        None => format!("{name}+{offset:#x}"),
    }
}

/// The tool's program and the arguments that come before binutils' own.
pub fn tool() -> (String, Vec<String>) {
    if let Some(own) = OWN_TOOL.get() {
        return own.clone();
    }
    let Ok(value) = std::env::var(TOOL_VAR) else {
        return ("addr2line".into(), Vec::new());
    };
    // A path with spaces in it names the program whole.
    if Path::new(&value).is_file() {
        return (value, Vec::new());
    }
    let mut words = value.split_whitespace().map(str::to_owned);
    let program = words.next().unwrap_or_else(|| "addr2line".into());
    (program, words.collect())
}

/// The tool this process names for itself ([`use_tool`]), before
/// `LEAKLAB_ADDR2LINE`.
static OWN_TOOL: std::sync::OnceLock<(String, Vec<String>)> = std::sync::OnceLock::new();

/// Names the tool for this process alone (not the processes it starts,
/// which keep `LEAKLAB_ADDR2LINE` or binutils'): a program and its first
/// arguments. The first call wins; a user's `LEAKLAB_ADDR2LINE` should be
/// checked by the caller first.
pub fn use_tool(program: String, args: Vec<String>) {
    let _ = OWN_TOOL.set((program, args));
}

/// The tool's command, before binutils' arguments.
fn tool_command() -> Command {
    let (program, args) = tool();
    let mut cmd = Command::new(program);
    cmd.args(args);
    cmd
}

/// Why the tool cannot run, if it cannot: asked once per process (not
/// for this executable's own tool, which runs if this process does).
fn tool_missing() -> Option<String> {
    static MISSING: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    if OWN_TOOL.get().is_some() {
        return None;
    }
    MISSING.get_or_init(probe_tool).clone()
}

fn probe_tool() -> Option<String> {
    match tool_command()
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(_) => None,
        Err(e) => Some(format!(
            "{} cannot run ({e}): install binutils, or name another tool in {TOOL_VAR}",
            tool().0
        )),
    }
}

/// What was resolved so far, and the tool process serving each object.
struct Resolver {
    known: HashMap<(PathBuf, usize), Vec<Symbol>>,
    servers: HashMap<PathBuf, Option<Server>>,
}

static RESOLVER: Mutex<Option<Resolver>> = Mutex::new(None);

/// The symbols of `offsets` in the object at `path`: those seen before
/// from memory, the others from the object's tool process.
fn run_tool(path: &Path, offsets: &[usize]) -> HashMap<usize, Vec<Symbol>> {
    let mut guard = RESOLVER
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let resolver = guard.get_or_insert_with(|| Resolver {
        known: HashMap::new(),
        servers: HashMap::new(),
    });
    let mut new: Vec<usize> = offsets
        .iter()
        .copied()
        .filter(|&o| !resolver.known.contains_key(&(path.to_path_buf(), o)))
        .collect();
    new.sort_unstable();
    new.dedup();
    if !new.is_empty() {
        let server = resolver
            .servers
            .entry(path.to_path_buf())
            .or_insert_with(|| Server::start(path));
        let answered = server.as_mut().and_then(|s| s.ask(&new));
        if answered.is_none() {
            // A tool that died or cannot start: no second try this run.
            *server = None;
        }
        let mut answered = answered.unwrap_or_default();
        for offset in new {
            let symbols = answered.remove(&offset).unwrap_or_default();
            resolver.known.insert((path.to_path_buf(), offset), symbols);
        }
    }
    offsets
        .iter()
        .map(|&o| (o, resolver.known[&(path.to_path_buf(), o)].clone()))
        .collect()
}

/// `addr2line -a -f -i -C -e FILE`, reading offsets on its standard input
/// and flushing each answer (binutils' server mode).
struct Server {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

/// An address no object holds, asked after each batch: its echo marks the
/// end of the batch's answers.
const END: &str = "0xffffffffffffffff";

impl Server {
    fn start(path: &Path) -> Option<Server> {
        let mut child = tool_command()
            .args(["-a", "-f", "-i", "-C", "-e"])
            .arg(path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let input = child.stdin.take()?;
        let output = BufReader::new(child.stdout.take()?);
        Some(Server {
            child,
            input,
            output,
        })
    }

    /// The tool's answers for `offsets`, up to the end mark.
    fn ask(&mut self, offsets: &[usize]) -> Option<HashMap<usize, Vec<Symbol>>> {
        let mut question = String::new();
        for offset in offsets {
            question.push_str(&format!("{offset:#x}\n"));
        }
        question.push_str(END);
        question.push('\n');
        self.input.write_all(question.as_bytes()).ok()?;
        self.input.flush().ok()?;
        let mut text = String::new();
        loop {
            let mut line = String::new();
            if self.output.read_line(&mut line).ok()? == 0 {
                return None; // the tool ended
            }
            if line.trim() == END {
                // Its two lines ("??", "??:0") end the batch.
                for _ in 0..2 {
                    line.clear();
                    self.output.read_line(&mut line).ok()?;
                }
                return Some(parse(&text));
            }
            text.push_str(&line);
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The tool's output: an address line ("0x0000000000012345"), then a
/// function line and a "file:line" line per frame, inlined ones first.
fn parse(text: &str) -> HashMap<usize, Vec<Symbol>> {
    let mut out: HashMap<usize, Vec<Symbol>> = HashMap::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let Some(address) = line
            .strip_prefix("0x")
            .and_then(|hex| usize::from_str_radix(hex.trim(), 16).ok())
        else {
            continue;
        };
        let frames = out.entry(address).or_default();
        while lines.peek().is_some_and(|l| !l.starts_with("0x")) {
            let function = lines.next().unwrap_or_default().trim();
            let location = lines.next().unwrap_or_default().trim();
            let (file, line) = location_of(location);
            if function == "??" && file.is_none() {
                continue;
            }
            let function = if function == "??" { "???" } else { function };
            frames.push((function.to_owned(), file, line));
        }
    }
    out
}

/// "src/lib.rs:12", "src/lib.rs:12 (discriminator 3)", "??:0", "??:?".
fn location_of(text: &str) -> (Option<String>, Option<u32>) {
    let text = text.split(" (discriminator").next().unwrap_or(text);
    let Some((file, line)) = text.rsplit_once(':') else {
        return (None, None);
    };
    if file == "??" || file.is_empty() {
        return (None, None);
    }
    (Some(file.to_owned()), line.parse().ok().filter(|&n| n > 0))
}

/// Every loaded object with a file: the executable and its libraries.
pub fn loaded_objects() -> Vec<Object> {
    let mut objects: Vec<Object> = Vec::new();
    // SAFETY: the callback reads only what glibc passes it for the length
    // of each call, and `objects` outlives the iteration.
    unsafe { libc::dl_iterate_phdr(Some(each_object), (&mut objects as *mut Vec<Object>).cast()) };
    objects
}

unsafe extern "C" fn each_object(
    info: *mut libc::dl_phdr_info,
    _size: usize,
    data: *mut c_void,
) -> c_int {
    // SAFETY: glibc passes a valid `info` for this call, and `data` is the
    // vector `loaded_objects` passed.
    let (info, objects) = unsafe { (&*info, &mut *data.cast::<Vec<Object>>()) };
    let base = info.dlpi_addr as usize;
    // SAFETY: `dlpi_name` is a C string glibc keeps for the object's life;
    // `dlpi_phdr` points at `dlpi_phnum` program headers.
    let (name, headers) = unsafe {
        (
            CStr::from_ptr(info.dlpi_name)
                .to_string_lossy()
                .into_owned(),
            std::slice::from_raw_parts(info.dlpi_phdr, usize::from(info.dlpi_phnum)),
        )
    };
    let path = if name.is_empty() {
        // The executable (the first object) has no name here.
        if !objects.is_empty() {
            return 0;
        }
        match std::env::current_exe() {
            Ok(path) => path,
            Err(_) => return 0,
        }
    } else {
        PathBuf::from(name)
    };
    if !path.is_absolute() && !path.exists() {
        return 0; // the vDSO: no file to read
    }
    let ranges = headers
        .iter()
        .filter(|h| h.p_type == libc::PT_LOAD)
        .map(|h| {
            let start = base + h.p_vaddr as usize;
            (start, start + h.p_memsz as usize)
        })
        .collect();
    objects.push(Object { path, base, ranges });
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_addresses_inlined_frames_and_unknowns() {
        let text = "0x0000000000001234\ninner\n/src/a.rs:7\nouter\n/src/b.rs:9 (discriminator 2)\n\
                    0x0000000000002000\n??\n??:0\n0x0000000000003000\nc_func\n??:?\n";
        let symbols = parse(text);
        assert_eq!(
            symbols[&0x1234],
            vec![
                ("inner".into(), Some("/src/a.rs".into()), Some(7)),
                ("outer".into(), Some("/src/b.rs".into()), Some(9)),
            ]
        );
        assert!(symbols[&0x2000].is_empty());
        assert_eq!(symbols[&0x3000], vec![("c_func".into(), None, None)]);
    }

    #[inline(never)]
    fn here() -> usize {
        let mut frames = [0usize; 4];
        crate::heap::unwind::trace(&mut frames);
        frames[1] // this function's return address into its caller… of trace
    }

    #[test]
    fn resolves_a_function_of_this_binary() {
        let address = here() - 1;
        let symbols = resolve(&[address]);
        let names: Vec<&str> = symbols[&address].iter().map(|s| s.0.as_str()).collect();
        assert!(
            names.iter().any(|n| n.contains("symbols::tests::here")),
            "{names:?}"
        );
    }
}

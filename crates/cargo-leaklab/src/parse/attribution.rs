//! Which side of the boundary allocated a block, read from its allocation
//! stack. Shared by the valgrind and LeakSanitizer detectors.
//!
//! The rule is the counters' own (src/heap/interpose.rs): a block is Rust's
//! if it was allocated through the Rust global allocator, and C's if
//! anything else called `malloc` for it, whichever library that was (the
//! lab's C, SQLite, zlib, libxml2, glibc) and whichever language called
//! that library. So the side is read from the allocator frames right above
//! `malloc`: `__rust_alloc` and friends, `<... as GlobalAlloc>::alloc`, the
//! counting allocator. A Rust allocation made inside a Rust callback that C
//! called is Rust's (it went through the Rust allocator), and a zlib block
//! allocated inside `deflateInit2_` called from a Rust binding is C's.

use serde::{Deserialize, Serialize};

/// One side of the boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    C,
    Rust,
}

/// One stack frame, as much as the tool knew of it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Frame {
    /// Function name, mangled or not, or the DWARF name of an inlined frame.
    pub function: Option<String>,
    /// Source file, with its directory when the tool gave one.
    pub file: Option<String>,
    pub line: Option<u32>,
    /// The object file (executable or shared library).
    pub object: Option<String>,
    /// The code address the tool printed (for a caller: its return
    /// address less one, as memcheck prints it).
    #[serde(skip)]
    pub ip: Option<u64>,
    /// Where its object was loaded in the process the stack is from (what
    /// to take off `ip` for the object's own address); None: memcheck's
    /// fixed base for a position-independent executable.
    #[serde(skip)]
    pub base: Option<u64>,
}

impl Frame {
    /// "function (file:line)", or whatever part of it is known.
    pub fn describe(&self) -> String {
        let function = self.function.as_deref().unwrap_or("???");
        match (&self.file, self.line) {
            (Some(file), Some(line)) => format!("{function} ({file}:{line})"),
            (Some(file), None) => format!("{function} ({file})"),
            (None, _) => match &self.object {
                Some(object) => format!("{function} (in {object})"),
                None => function.to_owned(),
            },
        }
    }

    /// Whether this frame is the Rust global allocator's (its entry points,
    /// a `GlobalAlloc` implementation, or the lab's counting allocator).
    fn is_rust_allocator(&self) -> bool {
        if let Some(function) = &self.function
            && RUST_ALLOCATOR_FUNCTIONS
                .iter()
                .any(|f| function.contains(f))
        {
            return true;
        }
        // Rust's default allocator is inlined into `alloc::alloc::alloc`
        // and friends, which then call malloc straight from library/alloc.
        self.file.as_deref().is_some_and(|file| {
            file.ends_with("heap/rust.rs") || RUST_ALLOCATOR_FILES.iter().any(|f| file.ends_with(f))
        })
    }
}

/// Names (or parts of names, mangled or not) of the Rust global allocator's
/// functions: the entry points the compiler emits and every `GlobalAlloc`
/// implementation (`System`'s, leaklab's `Counting`).
const RUST_ALLOCATOR_FUNCTIONS: &[&str] = &[
    "__rust_alloc",
    "__rust_alloc_zeroed",
    "__rust_realloc",
    "__rg_alloc",
    "__rg_alloc_zeroed",
    "__rg_realloc",
    "__rdl_alloc",
    "__rdl_alloc_zeroed",
    "__rdl_realloc",
    "GlobalAlloc",
    "leaklab::heap::rust::Counting",
    // `Vec::with_capacity` and `vec![x; n]` in a crate on the default
    // allocator: std's `RawVecInner` for `Global` (no type argument in
    // the demangled name) calls malloc itself, `__rust_alloc` and
    // `alloc::alloc::alloc` inlined into it, with no line of alloc.rs in
    // the stack. Another allocator's instance names its type
    // (`RawVecInner<MyAlloc>`), and is not matched.
    "<alloc::raw_vec::RawVecInner>::",
];

/// Source files of Rust's allocation entry points (`alloc::alloc::alloc`
/// and friends, `System`'s implementation), for stacks where the default
/// allocator was inlined into them.
const RUST_ALLOCATOR_FILES: &[&str] = &[
    "library/alloc/src/alloc.rs",
    "alloc/src/alloc.rs",
    "std/src/sys/alloc/unix.rs",
];

/// The side that allocated a block with this stack (innermost first): Rust
/// if the Rust global allocator is on it, else C.
///
/// In order: a frame of the Rust allocator by name or file; then the call
/// site right above the allocation function, read from the machine code
/// (what it called: a Rust allocator entry or the C allocator, see
/// [`super::call_site`]); then that caller's name (Rust's own library
/// calls the C allocator only through the global allocator); else C.
pub fn side_of(stack: &[Frame]) -> Side {
    if stack.iter().any(Frame::is_rust_allocator) {
        return Side::Rust;
    }
    let Some(caller) = stack.iter().position(|f| !f.is_allocation_function()) else {
        return Side::C;
    };
    if let Some(side) = side_from_call_site(stack, caller) {
        return side;
    }
    if stack[caller].is_rust_library() {
        return Side::Rust;
    }
    Side::C
}

/// What the call site at `stack[caller]` called: for memcheck's frames in
/// a position-independent executable it loaded at its fixed base, or for
/// frames whose object's base is known (the shim's allocation sites).
fn side_from_call_site(stack: &[Frame], caller: usize) -> Option<Side> {
    let frame = &stack[caller];
    let (ip, object) = (frame.ip?, frame.object.as_deref()?);
    // The inlined frames memcheck shows at the same address, outermost last.
    let names: Vec<&str> = stack[caller..]
        .iter()
        .take_while(|f| f.ip == Some(ip))
        .filter_map(|f| f.function.as_deref())
        .collect();
    super::call_site::side_called_from(
        std::path::Path::new(object),
        frame.base.unwrap_or(super::call_site::MEMCHECK_PIE_BASE),
        ip + 1,
        &names,
    )
}

/// A collection instantiated for an allocator of the user's own
/// (`RawVecInner<my::Arena>`, nightly's `allocator_api`), not the global
/// one: what that allocator does is not Rust's global allocator.
fn names_another_allocator(function: &str) -> bool {
    function.match_indices("RawVecInner<").any(|(at, open)| {
        let argument = &function[at + open.len()..];
        !(argument.starts_with("A>") || argument.starts_with("alloc::alloc::Global>"))
    })
}

/// Functions that allocate a block for their caller: the C allocator's
/// entry points, and memcheck's replacements of them.
const ALLOCATION_FUNCTIONS: &[&str] = &[
    "malloc",
    "calloc",
    "realloc",
    "reallocarray",
    "memalign",
    "posix_memalign",
    "aligned_alloc",
    "valloc",
    "pvalloc",
];

impl Frame {
    fn is_allocation_function(&self) -> bool {
        self.object
            .as_deref()
            .is_some_and(|o| o.contains("vgpreload_memcheck"))
            || self
                .function
                .as_deref()
                .is_some_and(|f| ALLOCATION_FUNCTIONS.contains(&f))
    }

    /// A function of Rust's own libraries (alloc, std, core and the crates
    /// std vendors, such as hashbrown), by name or by file.
    fn is_rust_library(&self) -> bool {
        let by_name = self.function.as_deref().is_some_and(|f| {
            let f = f.trim_start_matches('<');
            ["alloc::", "std::", "core::", "hashbrown::"]
                .iter()
                .any(|krate| f.starts_with(krate))
                && !names_another_allocator(f)
        });
        let by_file = self.file.as_deref().is_some_and(|file| {
            file.starts_with("/rustc/")
                || file.starts_with("/rust/deps/")
                || file.contains("library/alloc/")
                || file.contains("library/std/")
        });
        by_name || by_file
    }
}

/// The frame a reader looks at first, as `function (file:line)`: the
/// user's innermost frame, else the first one above the allocator (the
/// order `leaklab::check` shows stacks in). Every detector's stacks are
/// named by it: memcheck's, LeakSanitizer's and the shim's sites.
pub fn shown_frame(stack: &[Frame]) -> Option<String> {
    leaklab::check::shown_frames(
        stack
            .iter()
            .map(|f| (f.function.clone(), f.file.clone(), f.line)),
    )
    .first()
    .map(ToString::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(function: &str, file: Option<&str>) -> Frame {
        Frame {
            function: Some(function.into()),
            file: file.map(Into::into),
            ..Frame::default()
        }
    }

    #[test]
    fn c_library_block_called_from_rust_is_c() {
        let stack = [
            frame("malloc", None),
            frame("zcalloc", None),
            frame("deflateInit2_", None),
            frame(
                "leaklab::scenarios::zlib::leaky",
                Some("/x/src/scenarios/zlib.rs"),
            ),
        ];
        assert_eq!(side_of(&stack), Side::C);
    }

    #[test]
    fn rust_allocation_inside_a_c_callback_is_rust() {
        let stack = [
            frame("malloc", None),
            frame(
                "<std::alloc::System as core::alloc::global::GlobalAlloc>::alloc",
                Some("library/std/src/sys/alloc/unix.rs"),
            ),
            frame("__rust_alloc", None),
            frame("trampoline", Some("/x/src/connector/safe/callback.rs")),
            frame("lc_stmt_execute", Some("/x/csrc/connector/stmt.c")),
        ];
        assert_eq!(side_of(&stack), Side::Rust);
    }

    #[test]
    fn a_mangled_allocator_entry_is_rust() {
        let stack = [frame("malloc", None), frame("__rg_alloc", None)];
        assert_eq!(side_of(&stack), Side::Rust);
    }

    #[test]
    fn a_vec_on_the_default_allocator_is_rust() {
        // memcheck's stack of `vec![7u8; 48]` (Rust 1.95, System allocator).
        let stack = [
            frame("malloc", None),
            frame("<alloc::raw_vec::RawVecInner>::try_allocate_in", None),
            frame(
                "alloc::raw_vec::RawVecInner<A>::with_capacity_in",
                Some("library/alloc/src/raw_vec/mod.rs"),
            ),
            frame(
                "alloc::vec::from_elem",
                Some("library/alloc/src/vec/mod.rs"),
            ),
        ];
        assert_eq!(side_of(&stack), Side::Rust);
        let other = [
            frame("malloc", None),
            frame(
                "<alloc::raw_vec::RawVecInner<my::Arena>>::try_allocate_in",
                None,
            ),
        ];
        assert_eq!(side_of(&other), Side::C);
    }

    #[test]
    fn libc_malloc_called_from_rust_code_is_c() {
        // What the interposer counts as C too: malloc not through the
        // global allocator.
        let stack = [
            frame("malloc", None),
            frame("leaklab::x::f", Some("/x/src/x.rs")),
        ];
        assert_eq!(side_of(&stack), Side::C);
    }
}

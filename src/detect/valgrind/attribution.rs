//! Which side of the boundary allocated a block, read from its allocation
//! stack. Shared by the valgrind and LeakSanitizer detectors.
//!
//! The side is decided by the innermost frame that names a side, not by
//! "any C frame on the stack": a Rust allocation made inside a Rust callback
//! that C called has C frames further out, and the counters (which these
//! detectors are checked against) count it on the Rust side, because it went
//! through the Rust allocator. The innermost frame above `malloc` is the
//! allocator a block went through: `lab_malloc` (csrc/lab_alloc.c) for C,
//! `__rust_alloc` and friends (`.rs` files) for Rust.

use serde::Serialize;

/// One side of the boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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

    /// The side this frame belongs to, if it says.
    fn side(&self) -> Option<Side> {
        if let Some(file) = &self.file {
            if is_c_source(file) {
                return Some(Side::C);
            }
            if file.ends_with(".rs") {
                return Some(Side::Rust);
            }
        }
        let function = self.function.as_deref()?;
        if is_c_function(function) {
            Some(Side::C)
        } else if is_rust_function(function) {
            Some(Side::Rust)
        } else {
            None
        }
    }
}

/// The side that allocated a block with this stack (innermost first). A
/// stack naming no side (no debug info at all) is put on the Rust side: the
/// lab's C libraries are always built with debug info and allocate only
/// through csrc/lab_alloc.c, so an unnamed allocation is not theirs.
pub fn side_of(stack: &[Frame]) -> Side {
    stack.iter().find_map(Frame::side).unwrap_or(Side::Rust)
}

/// A file of the lab's C sources: under a `csrc` directory.
fn is_c_source(file: &str) -> bool {
    std::path::Path::new(file)
        .components()
        .any(|c| c.as_os_str() == "csrc")
}

/// The lab's C API: `lab_*` (the allocation layer) and `lc_*` (connector).
fn is_c_function(function: &str) -> bool {
    function.starts_with("lab_") || function.starts_with("lc_")
}

/// A Rust symbol: legacy (`_ZN...17h<hash>E`) or v0 (`_R...`) mangling, or
/// a demangled path.
fn is_rust_function(function: &str) -> bool {
    function.starts_with("_R")
        || (function.starts_with("_ZN") && function.contains("17h"))
        || function.contains("::")
        || function.contains("__rust")
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
    fn c_allocator_frame_makes_the_block_c() {
        let stack = [
            frame("malloc", None),
            frame("lab_malloc", Some("/x/csrc/lab_alloc.c")),
            frame(
                "leaklab::connector::safe::f",
                Some("/x/src/connector/safe/a.rs"),
            ),
        ];
        assert_eq!(side_of(&stack), Side::C);
    }

    #[test]
    fn rust_allocation_inside_a_c_callback_is_rust() {
        let stack = [
            frame("malloc", None),
            frame("__rust_alloc", Some("library/std/src/sys/alloc/unix.rs")),
            frame("trampoline", Some("/x/src/connector/safe/callback.rs")),
            frame("lc_stmt_execute", Some("/x/csrc/connector/stmt.c")),
        ];
        assert_eq!(side_of(&stack), Side::Rust);
    }

    #[test]
    fn c_function_without_file_is_c() {
        let stack = [frame("malloc", None), frame("lc_strdup", None)];
        assert_eq!(side_of(&stack), Side::C);
    }

    #[test]
    fn rust_file_outside_csrc_is_not_c() {
        assert!(!is_c_source("/work/src/csrcx/a.rs"));
        assert!(is_c_source("/work/csrc/connector/engine.c"));
    }
}

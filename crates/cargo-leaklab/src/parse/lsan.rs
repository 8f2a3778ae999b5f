//! LeakSanitizer's report on stderr, read into records with their stacks
//! and the side of the boundary each was allocated on.

use serde::Serialize;

use super::attribution::{Frame, Side, side_of};

/// LeakSanitizer's classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LeakClass {
    /// Pointed to by nothing.
    Direct,
    /// Pointed to only by other leaked blocks.
    Indirect,
}

/// One LSan record: the objects leaked from one allocation stack.
#[derive(Debug, Clone, Serialize)]
pub struct LsanLeak {
    pub class: LeakClass,
    pub side: Side,
    pub bytes: i64,
    pub objects: i64,
    pub stack: Vec<Frame>,
}

/// The records of LSan's report, with their stacks, in order.
pub fn parse(stderr: &str) -> Vec<LsanLeak> {
    let mut leaks: Vec<LsanLeak> = Vec::new();
    let mut in_stack = false;
    for line in stderr.lines() {
        let line = line.trim();
        if let Some(leak) = parse_header(line) {
            leaks.push(leak);
            in_stack = true;
        } else if line.is_empty() {
            in_stack = false;
        } else if in_stack
            && line.starts_with('#')
            && let Some(leak) = leaks.last_mut()
        {
            leak.stack.push(parse_frame(line));
        }
    }
    for leak in &mut leaks {
        leak.side = side_of(&leak.stack);
    }
    leaks
}

/// "Direct leak of 704 byte(s) in 11 object(s) allocated from:".
fn parse_header(line: &str) -> Option<LsanLeak> {
    let (class, rest) = if let Some(rest) = line.strip_prefix("Direct leak of ") {
        (LeakClass::Direct, rest)
    } else {
        (LeakClass::Indirect, line.strip_prefix("Indirect leak of ")?)
    };
    let (bytes, rest) = rest.split_once(" byte(s) in ")?;
    let (objects, _) = rest.split_once(" object(s)")?;
    Some(LsanLeak {
        class,
        side: Side::Rust,
        bytes: bytes.parse().ok()?,
        objects: objects.parse().ok()?,
        stack: Vec::new(),
    })
}

/// "#1 0x55d in lc_copy_bytes /lab/csrc/connector/bytes.c:11:15", or with
/// "(/path/binary+0x1f)" for a frame without debug info.
fn parse_frame(line: &str) -> Frame {
    let mut frame = Frame::default();
    // "#1", then the address, then the rest.
    let rest = line.splitn(3, ' ').nth(2).unwrap_or("").trim();
    let rest = rest.strip_prefix("in ").unwrap_or(rest);
    // Newer runtimes end an unsymbolized frame with " (BuildId: ...)".
    let rest = rest.split(" (BuildId: ").next().unwrap_or(rest);
    let (function, location) = match rest.rsplit_once(' ') {
        Some((function, location)) => (Some(function), location),
        None if rest.starts_with('(') => (None, rest),
        None => (Some(rest), ""),
    };
    frame.function = function.map(str::to_owned);
    if let Some(object) = location.strip_prefix('(') {
        frame.object = Some(object.trim_end_matches(')').to_owned());
    } else if !location.is_empty() {
        let (file, line_number) = split_location(location);
        frame.file = Some(file.to_owned());
        frame.line = line_number;
    }
    frame
}

/// "file.rs:14:22" (or "file.rs:14") into the file and its line; the
/// column is dropped.
fn split_location(location: &str) -> (&str, Option<u32>) {
    let Some((head, last)) = location.rsplit_once(':') else {
        return (location, None);
    };
    let Ok(last) = last.parse::<u32>() else {
        return (location, None);
    };
    match head.rsplit_once(':') {
        Some((file, line)) => match line.parse::<u32>() {
            Ok(line) => (file, Some(line)),
            Err(_) => (head, Some(last)),
        },
        None => (head, Some(last)),
    }
}

/// "SUMMARY: LeakSanitizer: 11910 byte(s) leaked in 109 allocation(s).":
/// (allocations, bytes).
pub fn summary(stderr: &str) -> Option<(i64, i64)> {
    let line = stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("SUMMARY: LeakSanitizer: "))?;
    let (bytes, rest) = line.split_once(" byte(s) leaked in ")?;
    let (blocks, _) = rest.split_once(" allocation(s)")?;
    Some((blocks.parse().ok()?, bytes.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "
=================================================================
==10427==ERROR: LeakSanitizer: detected memory leaks

Direct leak of 704 byte(s) in 11 object(s) allocated from:
    #0 0x557dfc773a4f in malloc /rustc/llvm/src/llvm-project/compiler-rt/lib/lsan/lsan_interceptors.cpp:74:3
    #1 0x557dfc803e23 in lc_copy_bytes /work/main/csrc/connector/bytes.c:11:15
    #2 0x557dfc7fe330 in <leaklab::connector::safe::connection::Connection>::connect /work/main/src/connector/safe/connection.rs:66:28

Indirect leak of 480 byte(s) in 10 object(s) allocated from:
    #0 0x557dfc773a4f in malloc /rustc/llvm/src/llvm-project/compiler-rt/lib/lsan/lsan_interceptors.cpp:74:3
    #1 0x557dfc7ca93d in <std::alloc::System as core::alloc::global::GlobalAlloc>::alloc /root/.rustup/toolchains/nightly/lib/rustlib/src/rust/library/std/src/sys/alloc/unix.rs:14:22
    #2 0x557dfc7ca93d in lc_like_named_rust_helper (/work/main/target/leaklab+0x1234)

SUMMARY: LeakSanitizer: 1184 byte(s) leaked in 21 allocation(s).
";

    #[test]
    fn an_unsymbolized_frame_with_a_build_id_names_its_object_not_a_file() {
        let frame = parse_frame(
            "#0 0x55c0a566752f in malloc (/t/leaky_demo-5ab9+0x4a52f) (BuildId: 19dc55c00c78)",
        );
        assert_eq!(frame.function.as_deref(), Some("malloc"));
        assert_eq!(frame.object.as_deref(), Some("/t/leaky_demo-5ab9+0x4a52f"));
        assert_eq!(frame.file, None);
    }

    #[test]
    fn reads_records_and_sides() {
        let leaks = parse(SAMPLE);
        assert_eq!(leaks.len(), 2);
        assert_eq!(leaks[0].class, LeakClass::Direct);
        assert_eq!((leaks[0].bytes, leaks[0].objects), (704, 11));
        assert_eq!(leaks[0].side, Side::C);
        assert_eq!(leaks[0].stack[1].function.as_deref(), Some("lc_copy_bytes"));
        assert_eq!(leaks[0].stack[1].line, Some(11));
        assert_eq!(leaks[1].class, LeakClass::Indirect);
        assert_eq!(leaks[1].side, Side::Rust);
        assert_eq!(
            leaks[1].stack[2].object.as_deref(),
            Some("/work/main/target/leaklab+0x1234")
        );
    }

    #[test]
    fn reads_the_summary() {
        assert_eq!(summary(SAMPLE), Some((21, 1184)));
        assert_eq!(summary("no summary"), None);
    }

    #[test]
    fn location_splits_file_and_line() {
        assert_eq!(split_location("/a/b.c:75:27"), ("/a/b.c", Some(75)));
        assert_eq!(split_location("/a/b.c:75"), ("/a/b.c", Some(75)));
        assert_eq!(split_location("/a/b.c"), ("/a/b.c", None));
    }
}

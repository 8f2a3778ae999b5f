//! libyaml-parser: a YAML parser initialised and never deleted.
//!
//! The system's libyaml, counted at the process's C allocator (it has no
//! allocator hook). The binding is here, beside the scenario: the leaky
//! `Parser` has no `Drop`, the safe one calls `yaml_parser_delete`.

use super::code::{Code, Item};
use super::footprint::{block, sum};
use super::{BackendChoice, Expected, Iteration, Origin, Scenario, Variant};
use crate::heap::Live;
use crate::sys::libyaml as sys;

pub static SCENARIO: Scenario = Scenario {
    id: "libyaml-parser",
    title: "libyaml parser never deleted",
    origin: Origin {
        source: "rust-binding",
        reference: "libyaml API (yaml.h): yaml_parser_initialize 'allocates' the parser's \
                    buffers and stacks, 'destroy a parser' with yaml_parser_delete; \
                    rust-openssl #1475 (a type with no Drop)",
    },
    pattern: "the parser's owner has no Drop, so yaml_parser_delete never runs and the parser's input buffers, token queue and stacks stay allocated",
    fix: "give the owner a Drop that calls yaml_parser_delete",
    library: "libyaml",
    leaky,
    safe,
    safe_backend: BackendChoice::C,
    pure_capable: false,
    expected,
    // 67 KiB a leaky iteration: 4000 iterations keep 0.26 GiB, under the
    // default 1 GiB cap with room for valgrind's overhead.
    iteration_budget: Some(4000),
    source_file: "src/scenarios/libyaml_parser.rs",
    source: include_str!("libyaml_parser.rs"),
    code: Code {
        leaky: &[Item::here("mod leaky {")],
        safe: &[Item::here("mod safe {")],
    },
};

/// One mapping of one pair: its two scalars, in the order parsed.
const INPUT: &str = "person: alice\n";
const SCALARS: [&str; 2] = ["person", "alice"];

/// The shared half: an initialised parser reading `INPUT`. Boxed, as a
/// binding keeps it (a large struct, and its input must outlive it).
struct Parser(Box<sys::yaml_parser_t>);

impl Parser {
    fn new() -> Result<Parser, String> {
        // SAFETY: yaml_parser_initialize zeroes the struct itself before
        // filling it; all zeroes is a valid value of this C struct.
        let mut parser: Box<sys::yaml_parser_t> = Box::new(unsafe { std::mem::zeroed() });
        // SAFETY: a writable parser struct; it returns 0 (and frees what it
        // allocated) when an allocation fails.
        if unsafe { sys::yaml_parser_initialize(&mut *parser) } == 0 {
            return Err("yaml_parser_initialize failed: out of memory".into());
        }
        // SAFETY: an initialised parser; INPUT is 'static, so it outlives
        // the parser that reads it.
        unsafe { sys::yaml_parser_set_input_string(&mut *parser, INPUT.as_ptr(), INPUT.len()) };
        Ok(Parser(parser))
    }

    /// Parses the whole stream: every scalar's value, in order.
    fn scalars(&mut self) -> Result<Vec<String>, String> {
        let mut scalars = Vec::new();
        loop {
            // SAFETY: all zeroes is a valid (empty) event for the parser to fill.
            let mut event: sys::yaml_event_t = unsafe { std::mem::zeroed() };
            // SAFETY: an initialised parser and an event to fill; on failure
            // the parser's error fields are set and no event is made.
            if unsafe { sys::yaml_parser_parse(&mut *self.0, &mut event) } == 0 {
                return Err(self.error());
            }
            let kind = event.type_;
            if kind == sys::yaml_event_type_e_YAML_SCALAR_EVENT {
                // SAFETY: a scalar event: its value is `length` bytes owned
                // by the event, copied before the event is deleted.
                let value = unsafe {
                    let scalar = event.data.scalar;
                    std::slice::from_raw_parts(scalar.value, scalar.length)
                };
                scalars.push(String::from_utf8_lossy(value).into_owned());
            }
            // SAFETY: an event the parser made, deleted exactly once.
            unsafe { sys::yaml_event_delete(&mut event) };
            if kind == sys::yaml_event_type_e_YAML_STREAM_END_EVENT {
                return Ok(scalars);
            }
        }
    }

    /// The parser's error: its problem (a static string) and the kind.
    fn error(&self) -> String {
        let problem = if self.0.problem.is_null() {
            "no description".into()
        } else {
            // SAFETY: a NUL-terminated static string of libyaml's.
            unsafe { std::ffi::CStr::from_ptr(self.0.problem) }.to_string_lossy()
        };
        format!(
            "yaml_parser_parse failed (error {}): {problem}",
            self.0.error
        )
    }

    /// What the parser holds, from its own public fields: each buffer,
    /// queue and stack is one block from `start` to `end` (its capacity),
    /// and the aliases stack is allocated only by the loader (NULL here).
    fn holds(&self) -> Live {
        let p = &*self.0;
        let span = |start: usize, end: usize| (start != 0).then(|| block(end - start));
        let spans = [
            span(p.raw_buffer.start as usize, p.raw_buffer.end as usize),
            span(p.buffer.start as usize, p.buffer.end as usize),
            span(p.tokens.start as usize, p.tokens.end as usize),
            span(p.indents.start as usize, p.indents.end as usize),
            span(p.simple_keys.start as usize, p.simple_keys.end as usize),
            span(p.states.start as usize, p.states.end as usize),
            span(p.marks.start as usize, p.marks.end as usize),
            span(
                p.tag_directives.start as usize,
                p.tag_directives.end as usize,
            ),
            span(p.aliases.start as usize, p.aliases.end as usize),
        ];
        sum(&spans.into_iter().flatten().collect::<Vec<_>>())
    }
}

/// The mistake: an owner with no Drop.
mod leaky {
    pub struct Parser(pub super::Parser);
}

/// The fix: Drop deletes the parser.
mod safe {
    pub struct Parser(pub super::Parser);

    impl Drop for Parser {
        fn drop(&mut self) {
            // SAFETY: an initialised parser, deleted exactly once, here.
            unsafe { super::sys::yaml_parser_delete(&mut *(self.0).0) };
        }
    }
}

fn check(scalars: Vec<String>) -> Result<(), String> {
    if scalars == SCALARS {
        Ok(())
    } else {
        Err(format!("scalars {scalars:?}, expected {SCALARS:?}"))
    }
}

fn leaky(_: BackendChoice) -> Result<Iteration, String> {
    Ok(Box::new(|| {
        let mut parser = leaky::Parser(Parser::new()?);
        check(parser.0.scalars()?)
    }))
}

fn safe(_: BackendChoice) -> Result<Iteration, String> {
    Ok(Box::new(|| {
        let mut parser = safe::Parser(Parser::new()?);
        check(parser.0.scalars()?)
    }))
}

/// A parser's blocks after the workload's parse, read from a live parser's
/// public fields (`start`..`end` of each buffer and stack), not from the
/// counters: libyaml's capacities (yaml_private.h) are private constants,
/// but the parser struct that records them is public.
pub fn parser_blocks() -> Live {
    let mut parser = safe::Parser(Parser::new().expect("yaml_parser_initialize"));
    parser.0.scalars().expect("parse");
    parser.0.holds()
}

fn expected(variant: Variant, _: BackendChoice) -> Expected {
    match variant {
        Variant::Leaky => Expected::c_lost(parser_blocks()),
        Variant::Safe => Expected::CLEAN,
    }
}

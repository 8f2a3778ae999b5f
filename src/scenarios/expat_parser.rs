//! expat-parser: an XML parser created and never freed.
//!
//! The system's libexpat, counted at the process's C allocator
//! (`XML_ParserCreate` uses the default memory suite: malloc, realloc,
//! free). The binding is here, beside the scenario: the leaky `Parser` has
//! no `Drop`, the safe one calls `XML_ParserFree`.

use super::code::{Code, Item};
use super::{BackendChoice, Expected, Iteration, Origin, Scenario, Variant};
use crate::heap::Live;
use crate::sys::expat as sys;

pub static SCENARIO: Scenario = Scenario {
    id: "expat-parser",
    title: "expat parser never freed",
    origin: Origin {
        source: "rust-binding",
        reference: "expat API (expat.h): XML_ParserCreate 'constructs a new parser', \
                    XML_ParserFree 'frees memory used by the parser'; rust-openssl #1475 \
                    (a type with no Drop)",
    },
    pattern: "the parser's owner has no Drop, so XML_ParserFree never runs and the parser, its buffers, its DTD and its tag stack stay allocated",
    fix: "give the owner a Drop that calls XML_ParserFree",
    library: "expat",
    leaky,
    safe,
    safe_backend: BackendChoice::C,
    pure_capable: false,
    expected,
    iteration_budget: None,
    source_file: "src/scenarios/expat_parser.rs",
    source: include_str!("expat_parser.rs"),
    code: Code {
        leaky: &[Item::here("mod leaky {")],
        safe: &[Item::here("mod safe {")],
    },
};

const ELEMENT: &str = "person";
const TEXT: &str = "alice";

fn xml() -> String {
    format!("<{ELEMENT}>{TEXT}</{ELEMENT}>")
}

/// The shared half: a parser, and the root element's name its start
/// handler records (boxed: expat keeps a pointer to it as user data).
struct Parser {
    parser: std::ptr::NonNull<sys::XML_ParserStruct>,
    root: Box<Option<String>>,
}

/// expat's start-element handler: records the first element's name.
extern "C" fn start_element(
    user_data: *mut libc::c_void,
    name: *const sys::XML_Char,
    _attributes: *mut *const sys::XML_Char,
) {
    // SAFETY: user_data is the parser's `root`, alive while it parses;
    // name is a NUL-terminated string for the length of the call.
    let (root, name) = unsafe {
        (
            &mut *user_data.cast::<Option<String>>(),
            std::ffi::CStr::from_ptr(name),
        )
    };
    root.get_or_insert_with(|| name.to_string_lossy().into_owned());
}

impl Parser {
    fn new() -> Result<Parser, String> {
        // SAFETY: NULL asks for the document's own encoding.
        let parser = unsafe { sys::XML_ParserCreate(std::ptr::null()) };
        let parser =
            std::ptr::NonNull::new(parser).ok_or("XML_ParserCreate failed: out of memory")?;
        let mut root = Box::new(None);
        // SAFETY: a live parser; `root` is boxed and lives as long as it.
        unsafe {
            sys::XML_SetUserData(parser.as_ptr(), (&mut *root as *mut Option<String>).cast());
            sys::XML_SetStartElementHandler(parser.as_ptr(), Some(start_element));
        }
        Ok(Parser { parser, root })
    }

    /// Parses `text` as the whole document: the root element's name.
    fn parse(&mut self, text: &str) -> Result<String, String> {
        // SAFETY: a live parser; the buffer is valid for its length for
        // the whole call; 1: this is the final (only) piece.
        let status = unsafe {
            sys::XML_Parse(
                self.parser.as_ptr(),
                text.as_ptr().cast(),
                text.len() as i32,
                1,
            )
        };
        if status != sys::XML_Status_XML_STATUS_OK {
            // SAFETY: a live parser; XML_ErrorString returns a static
            // string (or NULL for an unknown code).
            let message = unsafe {
                let code = sys::XML_GetErrorCode(self.parser.as_ptr());
                let text = sys::XML_ErrorString(code);
                if text.is_null() {
                    format!("error {code}")
                } else {
                    std::ffi::CStr::from_ptr(text)
                        .to_string_lossy()
                        .into_owned()
                }
            };
            return Err(format!("XML_Parse refused {text:?}: {message}"));
        }
        Ok(self.root.take().unwrap_or_default())
    }
}

/// The mistake: an owner with no Drop.
mod leaky {
    pub struct Parser(pub super::Parser);
}

/// The fix: Drop frees the parser.
mod safe {
    pub struct Parser(pub super::Parser);

    impl Drop for Parser {
        fn drop(&mut self) {
            // SAFETY: a parser from XML_ParserCreate, freed exactly once, here.
            unsafe { super::sys::XML_ParserFree((self.0).parser.as_ptr()) };
        }
    }
}

fn check(name: String) -> Result<(), String> {
    if name == ELEMENT {
        Ok(())
    } else {
        Err(format!("root element {name:?}, expected {ELEMENT:?}"))
    }
}

fn leaky(_: BackendChoice) -> Result<Iteration, String> {
    let text = xml();
    Ok(Box::new(move || {
        let mut parser = leaky::Parser(Parser::new()?);
        check(parser.0.parse(&text)?)
    }))
}

fn safe(_: BackendChoice) -> Result<Iteration, String> {
    let text = xml();
    Ok(Box::new(move || {
        let mut parser = safe::Parser(Parser::new()?);
        check(parser.0.parse(&text)?)
    }))
}

/// expat's parser after parsing the scenario's document: a footprint,
/// measured, since every structure of it is private (`XML_ParserStruct`,
/// its DTD, buffers and tag stack). Measured with the safe binding on this
/// thread's C counters, then freed; memcheck's count of the leaky run
/// (tests/valgrind.rs), which does not use the counters, checks it.
pub fn parser_footprint() -> Live {
    let _turn = super::footprint::calibrating();
    let before = crate::heap::c::thread_live();
    let mut parser = safe::Parser(Parser::new().expect("XML_ParserCreate"));
    parser.0.parse(&xml()).expect("XML_Parse");
    let live = crate::heap::c::thread_live().since(before);
    drop(parser);
    live
}

fn expected(variant: Variant, _: BackendChoice) -> Expected {
    match variant {
        Variant::Leaky => Expected::c_lost(parser_footprint()),
        Variant::Safe => Expected::CLEAN,
    }
}

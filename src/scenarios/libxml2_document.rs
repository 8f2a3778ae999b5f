//! libxml2-document: a parsed document never freed.
//!
//! The system's libxml2, counted at the process's C allocator (its own
//! xmlMemSetup hook is not used). The binding is here, beside the scenario:
//! the leaky `Document` has no `Drop`, the safe one calls `xmlFreeDoc`.

use std::mem::size_of;

use super::code::{Code, Item};
use super::footprint::{block, c_string, sum};
use super::{BackendChoice, Expected, Iteration, Origin, Scenario, Variant};
use crate::heap::Live;
use crate::sys::libxml2 as sys;

pub static SCENARIO: Scenario = Scenario {
    id: "libxml2-document",
    title: "libxml2 document never freed",
    origin: Origin {
        source: "rust-binding",
        reference: "libxml2 API: xmlReadMemory returns 'the resulting document tree', which the \
                    caller frees with xmlFreeDoc; rust-openssl #1475 (a type with no Drop)",
    },
    pattern: "the owner of the parsed tree has no Drop, so xmlFreeDoc never runs and every node and string of the tree stays allocated",
    fix: "give the owner a Drop that calls xmlFreeDoc",
    library: "libxml2",
    leaky,
    safe,
    safe_backend: BackendChoice::C,
    pure_capable: false,
    expected,
    iteration_budget: None,
    source_file: "src/scenarios/libxml2_document.rs",
    source: include_str!("libxml2_document.rs"),
    code: Code {
        leaky: &[Item::here("mod leaky {")],
        safe: &[Item::here("mod safe {")],
    },
};

/// One element with one text child; no XML declaration, so the document's
/// version is libxml2's default, "1.0".
const ELEMENT: &str = "person";
const TEXT: &str = "alice";
const DEFAULT_VERSION: &str = "1.0";

fn xml() -> String {
    format!("<{ELEMENT}>{TEXT}</{ELEMENT}>")
}

/// A parsed tree: the shared half of both owners.
struct Parsed(std::ptr::NonNull<sys::xmlDoc>);

impl Parsed {
    /// Parses `text` without a dictionary (XML_PARSE_NODICT), so every name
    /// is a string of its own in the tree, not an entry of a shared,
    /// reference-counted table whose layout is private.
    fn parse(text: &str) -> Result<Parsed, String> {
        let options = sys::xmlParserOption_XML_PARSE_NODICT
            | sys::xmlParserOption_XML_PARSE_NONET
            | sys::xmlParserOption_XML_PARSE_NOERROR
            | sys::xmlParserOption_XML_PARSE_NOWARNING;
        // SAFETY: the buffer is valid for its length for the whole call;
        // URL and encoding may be NULL.
        let doc = unsafe {
            sys::xmlReadMemory(
                text.as_ptr().cast(),
                text.len() as i32,
                std::ptr::null(),
                std::ptr::null(),
                options as i32,
            )
        };
        // libxml2 keeps the last error in a per-thread global, with copies
        // of its strings: read it and reset it after every parse (as git2
        // clears the C-side error once read), or its memory changes size
        // with every different error.
        let error = last_error();
        std::ptr::NonNull::new(doc)
            .map(Parsed)
            .ok_or_else(|| format!("xmlReadMemory refused {text:?}: {error}"))
    }

    /// The root element's name.
    fn root_name(&self) -> String {
        // SAFETY: a live document; the root and its name live as long as it.
        unsafe {
            let root = sys::xmlDocGetRootElement(self.0.as_ptr());
            if root.is_null() || (*root).name.is_null() {
                return String::new();
            }
            std::ffi::CStr::from_ptr((*root).name.cast())
                .to_string_lossy()
                .into_owned()
        }
    }
}

/// libxml2's last error message (empty if none), and the error reset.
fn last_error() -> String {
    // SAFETY: xmlGetLastError returns NULL or this thread's error record,
    // whose message is NULL or a NUL-terminated string; both are copied
    // before xmlResetLastError frees them.
    unsafe {
        let error = sys::xmlGetLastError();
        let message = if error.is_null() || (*error).message.is_null() {
            String::new()
        } else {
            std::ffi::CStr::from_ptr((*error).message)
                .to_string_lossy()
                .trim_end()
                .to_owned()
        };
        sys::xmlResetLastError();
        message
    }
}

/// The mistake: an owner with no Drop.
mod leaky {
    pub struct Document(pub super::Parsed);
}

/// The fix: Drop frees the tree.
mod safe {
    pub struct Document(pub super::Parsed);

    impl Drop for Document {
        fn drop(&mut self) {
            // SAFETY: a document from xmlReadMemory, freed exactly once, here.
            unsafe { super::sys::xmlFreeDoc((self.0).0.as_ptr()) };
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
        let doc = leaky::Document(Parsed::parse(&text)?);
        check(doc.0.root_name())
    }))
}

fn safe(_: BackendChoice) -> Result<Iteration, String> {
    let text = xml();
    Ok(Box::new(move || {
        let doc = safe::Document(Parsed::parse(&text)?);
        check(doc.0.root_name())
    }))
}

/// The tree of `<ELEMENT>TEXT</ELEMENT>` from libxml2's public structs: the
/// document (`xmlDoc`) and its version string, the element node
/// (`xmlNode`) and its name, the text node (`xmlNode`) and its content.
/// The text node's name is libxml2's static "text", not allocated.
pub fn tree() -> Live {
    sum(&[
        block(size_of::<sys::xmlDoc>()),
        c_string(DEFAULT_VERSION.len()),
        block(size_of::<sys::xmlNode>()),
        c_string(ELEMENT.len()),
        block(size_of::<sys::xmlNode>()),
        c_string(TEXT.len()),
    ])
}

fn expected(variant: Variant, _: BackendChoice) -> Expected {
    match variant {
        Variant::Leaky => Expected::c_lost(tree()),
        Variant::Safe => Expected::CLEAN,
    }
}

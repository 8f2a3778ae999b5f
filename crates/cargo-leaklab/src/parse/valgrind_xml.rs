//! Reads memcheck's XML output (`--xml=yes`, protocol version 4): its loss
//! records, its other errors, and which suppressions were used.

use serde::Serialize;

use super::attribution::{Frame, Side, side_of};

/// Memcheck's leak kinds, as `<kind>` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LeakKind {
    DefinitelyLost,
    IndirectlyLost,
    PossiblyLost,
    StillReachable,
}

impl LeakKind {
    fn from_xml(kind: &str) -> Option<LeakKind> {
        Some(match kind {
            "Leak_DefinitelyLost" => LeakKind::DefinitelyLost,
            "Leak_IndirectlyLost" => LeakKind::IndirectlyLost,
            "Leak_PossiblyLost" => LeakKind::PossiblyLost,
            "Leak_StillReachable" => LeakKind::StillReachable,
            _ => return None,
        })
    }
}

/// One loss record: the blocks allocated at one stack that ended up in one
/// leak kind.
#[derive(Debug, Clone, Serialize)]
pub struct LossRecord {
    pub kind: LeakKind,
    pub side: Side,
    pub blocks: i64,
    /// The record's own bytes. For a definitely (or possibly) lost record,
    /// valgrind's `leakedbytes` also counts the blocks reachable only
    /// through it; those are reported again as indirectly lost records, so
    /// they are kept apart in `indirect_bytes` and not counted twice.
    pub bytes: i64,
    pub indirect_bytes: i64,
    /// valgrind's one-line description.
    pub what: String,
    pub stack: Vec<Frame>,
    /// The suppression memcheck wrote for it (`--gen-suppressions=all`),
    /// as its raw text.
    pub suppression: Option<String>,
}

impl LossRecord {
    /// memcheck's words for the record's kind.
    pub fn what_kind(&self) -> String {
        match self.kind {
            LeakKind::DefinitelyLost => "definitely lost",
            LeakKind::IndirectlyLost => "indirectly lost",
            LeakKind::PossiblyLost => "possibly lost",
            LeakKind::StillReachable => "still reachable",
        }
        .into()
    }
}

/// A memcheck error that is not a leak (InvalidRead, UninitCondition...).
#[derive(Debug, Clone, Serialize)]
pub struct MemError {
    pub kind: String,
    pub what: String,
    /// How many times it happened (valgrind reports each unique error once).
    pub count: u64,
    pub stack: Vec<String>,
    /// The same stack's frames (for blaming the error on a test).
    #[serde(skip)]
    pub frames: Vec<Frame>,
}

/// How many times one suppression matched.
#[derive(Debug, Clone, Serialize)]
pub struct SuppressionUse {
    pub name: String,
    pub count: u64,
}

/// Everything read from one XML file.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Parsed {
    pub records: Vec<LossRecord>,
    pub errors: Vec<MemError>,
    pub suppressions: Vec<SuppressionUse>,
}

/// Why memcheck's XML could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseError {
    /// Not well-formed XML (a run cut short writes half a file).
    Xml(String),
    /// Well-formed, but not memcheck's output.
    Root(String),
    /// A leak record without the element it must have.
    Missing(&'static str),
    /// A record without this count.
    NoElement(&'static str),
    /// A count that is not a number.
    Number {
        /// The element.
        element: String,
        /// Its text.
        text: String,
    },
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParseError::Xml(e) => write!(f, "valgrind's XML: {e}"),
            ParseError::Root(name) => {
                write!(
                    f,
                    "valgrind's XML: root element is <{name}>, not <valgrindoutput>"
                )
            }
            ParseError::Missing(what) => write!(f, "valgrind's XML: {what}"),
            ParseError::NoElement(name) => write!(f, "valgrind's XML: no <{name}>"),
            ParseError::Number { element, text } => {
                write!(f, "valgrind's XML: <{element}> is '{text}', not a number")
            }
        }
    }
}

impl std::error::Error for ParseError {}

impl From<ParseError> for String {
    fn from(e: ParseError) -> String {
        e.to_string()
    }
}

/// Parses memcheck's XML text.
///
/// ```
/// let xml = "<valgrindoutput><errorcounts/></valgrindoutput>";
/// let parsed = cargo_leaklab::parse::valgrind_xml::parse(xml).unwrap();
/// assert!(parsed.records.is_empty());
/// assert!(cargo_leaklab::parse::valgrind_xml::parse("<nope/>").is_err());
/// ```
pub fn parse(text: &str) -> Result<Parsed, ParseError> {
    let doc = roxmltree::Document::parse(text).map_err(|e| ParseError::Xml(e.to_string()))?;
    let root = doc.root_element();
    if root.tag_name().name() != "valgrindoutput" {
        return Err(ParseError::Root(root.tag_name().name().to_owned()));
    }
    let counts = error_counts(root);
    let mut parsed = Parsed::default();
    for error in children(root, "error") {
        let kind = text_of(error, "kind").unwrap_or_default();
        match LeakKind::from_xml(&kind) {
            Some(leak) => parsed.records.push(loss_record(error, leak)?),
            None => parsed.errors.push(mem_error(error, kind, &counts)),
        }
    }
    parsed.suppressions = suppression_uses(root);
    Ok(parsed)
}

fn loss_record(error: roxmltree::Node<'_, '_>, kind: LeakKind) -> Result<LossRecord, ParseError> {
    let xwhat =
        child(error, "xwhat").ok_or(ParseError::Missing("a leak <error> without <xwhat>"))?;
    let what = text_of(xwhat, "text").unwrap_or_default();
    let total = number(xwhat, "leakedbytes")?;
    let blocks = number(xwhat, "leakedblocks")?;
    let indirect_bytes = indirect_part(&what).unwrap_or(0);
    let stack = stack(error);
    Ok(LossRecord {
        kind,
        side: side_of(&stack),
        blocks,
        bytes: total - indirect_bytes,
        indirect_bytes,
        what,
        stack,
        suppression: child(error, "suppression").and_then(|s| text_of(s, "rawtext")),
    })
}

/// The indirect bytes of "1,193 (680 direct, 513 indirect) bytes in 1
/// blocks are definitely lost": the XML has no element of its own for them.
fn indirect_part(what: &str) -> Option<i64> {
    let inside = what.split_once('(')?.1.split_once(')')?.0;
    let indirect = inside
        .split(", ")
        .find_map(|p| p.strip_suffix(" indirect"))?;
    indirect.replace(',', "").parse().ok()
}

fn mem_error(error: roxmltree::Node<'_, '_>, kind: String, counts: &[(String, u64)]) -> MemError {
    let what = text_of(error, "what")
        .or_else(|| child(error, "xwhat").and_then(|x| text_of(x, "text")))
        .unwrap_or_default();
    let unique = text_of(error, "unique").unwrap_or_default();
    let count = counts
        .iter()
        .find(|(u, _)| *u == unique)
        .map_or(1, |(_, n)| *n);
    let frames = stack(error);
    MemError {
        kind,
        what,
        count,
        stack: frames.iter().map(Frame::describe).collect(),
        frames,
    }
}

/// The first `<stack>` of an error: where it happened, or where the block
/// was allocated for a leak.
fn stack(error: roxmltree::Node<'_, '_>) -> Vec<Frame> {
    let Some(stack) = child(error, "stack") else {
        return Vec::new();
    };
    children(stack, "frame").map(frame).collect()
}

/// One `<frame>` of a memcheck stack.
pub(crate) fn frame(node: roxmltree::Node<'_, '_>) -> Frame {
    let file = text_of(node, "file").map(|file| match text_of(node, "dir") {
        Some(dir) if !file.starts_with('/') => format!("{dir}/{file}"),
        _ => file,
    });
    Frame {
        function: text_of(node, "fn"),
        file,
        line: text_of(node, "line").and_then(|l| l.parse().ok()),
        object: text_of(node, "obj"),
        ip: text_of(node, "ip")
            .and_then(|ip| u64::from_str_radix(ip.trim_start_matches("0x"), 16).ok()),
        base: None,
    }
}

/// `<errorcounts>`: how many times each unique error happened.
fn error_counts(root: roxmltree::Node<'_, '_>) -> Vec<(String, u64)> {
    pairs(root, "errorcounts", "unique")
}

fn suppression_uses(root: roxmltree::Node<'_, '_>) -> Vec<SuppressionUse> {
    pairs(root, "suppcounts", "name")
        .into_iter()
        .map(|(name, count)| SuppressionUse { name, count })
        .collect()
}

/// The `<pair><count>N</count><KEY>...</KEY></pair>` lists under `list`
/// (valgrind writes one at each point it reports; the last is final).
fn pairs(root: roxmltree::Node<'_, '_>, list: &str, key: &str) -> Vec<(String, u64)> {
    let Some(last) = children(root, list).last() else {
        return Vec::new();
    };
    children(last, "pair")
        .filter_map(|pair| {
            let count = text_of(pair, "count")?.parse().ok()?;
            Some((text_of(pair, key)?, count))
        })
        .collect()
}

fn number(node: roxmltree::Node<'_, '_>, name: &'static str) -> Result<i64, ParseError> {
    let text = text_of(node, name).ok_or(ParseError::NoElement(name))?;
    text.parse().map_err(|_| ParseError::Number {
        element: name.to_owned(),
        text,
    })
}

fn children<'a, 'input>(
    node: roxmltree::Node<'a, 'input>,
    name: &'a str,
) -> impl Iterator<Item = roxmltree::Node<'a, 'input>> {
    node.children()
        .filter(move |n| n.is_element() && n.tag_name().name() == name)
}

fn child<'a, 'input>(
    node: roxmltree::Node<'a, 'input>,
    name: &str,
) -> Option<roxmltree::Node<'a, 'input>> {
    node.children()
        .find(|n| n.is_element() && n.tag_name().name() == name)
}

fn text_of(node: roxmltree::Node<'_, '_>, name: &str) -> Option<String> {
    child(node, name)
        .and_then(|n| n.text())
        .map(|t| t.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"<?xml version="1.0"?>
<valgrindoutput>
<protocolversion>4</protocolversion>
<error>
  <unique>0x1</unique><tid>1</tid><kind>InvalidRead</kind>
  <what>Invalid read of size 4</what>
  <stack><frame><fn>lc_bad</fn><dir>/lab/csrc/connector</dir><file>bad.c</file><line>7</line></frame></stack>
</error>
<errorcounts><pair><count>3</count><unique>0x1</unique></pair></errorcounts>
<error>
  <unique>0x2</unique><tid>1</tid><kind>Leak_DefinitelyLost</kind>
  <xwhat><text>1,193 (680 direct, 513 indirect) bytes in 1 blocks are definitely lost in loss record 2 of 2</text>
  <leakedbytes>1193</leakedbytes><leakedblocks>1</leakedblocks></xwhat>
  <stack>
    <frame><fn>malloc</fn><obj>/usr/libexec/valgrind/vgpreload_memcheck-amd64-linux.so</obj></frame>
    <frame><fn>lc_copy_bytes</fn><dir>/lab/csrc/connector</dir><file>bytes.c</file><line>11</line></frame>
  </stack>
</error>
<error>
  <unique>0x3</unique><tid>1</tid><kind>Leak_StillReachable</kind>
  <xwhat><text>64 bytes in 1 blocks are still reachable in loss record 1 of 2</text>
  <leakedbytes>64</leakedbytes><leakedblocks>1</leakedblocks></xwhat>
  <stack>
    <frame><fn>malloc</fn></frame>
    <frame><fn>__rust_alloc</fn></frame>
    <frame><fn>alloc</fn><dir>/rustc/abc</dir><file>library/alloc/src/alloc.rs</file><line>95</line></frame>
  </stack>
</error>
<suppcounts><pair><count>5</count><name>rust-std-stack-overflow-thread-info</name></pair></suppcounts>
</valgrindoutput>"#;

    #[test]
    fn reads_records_errors_and_suppressions() {
        let parsed = parse(SAMPLE).expect("sample parses");
        assert_eq!(parsed.errors.len(), 1);
        assert_eq!(parsed.errors[0].kind, "InvalidRead");
        assert_eq!(parsed.errors[0].count, 3);
        assert_eq!(parsed.records.len(), 2);
        let lost = &parsed.records[0];
        assert_eq!(lost.kind, LeakKind::DefinitelyLost);
        assert_eq!(lost.side, Side::C);
        assert_eq!(
            (lost.blocks, lost.bytes, lost.indirect_bytes),
            (1, 680, 513)
        );
        let reachable = &parsed.records[1];
        assert_eq!(reachable.side, Side::Rust);
        assert_eq!((reachable.bytes, reachable.indirect_bytes), (64, 0));
        assert_eq!(parsed.suppressions[0].count, 5);
    }

    #[test]
    fn indirect_part_reads_thousands_separators() {
        assert_eq!(
            indirect_part("11,930 (6,800 direct, 5,130 indirect) bytes in 10 blocks"),
            Some(5130)
        );
        assert_eq!(
            indirect_part("396 bytes in 11 blocks are definitely lost"),
            None
        );
    }

    #[test]
    fn rejects_non_valgrind_xml() {
        assert!(parse("<html/>").is_err());
    }
}

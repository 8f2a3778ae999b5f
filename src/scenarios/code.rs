//! The code a scenario's mistake and fix live in, wherever that is: the
//! scenario file, the leaky binding, the safe binding or the C library.
//! Each scenario names its pieces here by reference (a file and the first
//! line of an item), so `explain` shows them without guessing which
//! methods a workload calls; a test resolves every reference.

/// A source file of the lab, embedded in the binary.
pub struct File {
    /// Its path from the repository root.
    pub path: &'static str,
    pub text: &'static str,
}

/// Embeds the file at `path` (from src/) with its repository path.
macro_rules! embed {
    ($path:literal) => {
        File {
            path: concat!("src/", $path),
            text: include_str!(concat!("../", $path)),
        }
    };
}

pub static CONNECTOR_LEAKY: File = embed!("connector/leaky.rs");
pub static CONNECTOR_CALLBACK: File = embed!("connector/safe/callback.rs");
pub static CONNECTOR_CONNECTION: File = embed!("connector/safe/connection.rs");
pub static CONNECTOR_RESULT: File = embed!("connector/safe/result.rs");
pub static CONNECTOR_STATEMENT: File = embed!("connector/safe/statement.rs");
pub static CONNECTOR_STRING: File = embed!("connector/safe/string.rs");
pub static SQLITE_LEAKY: File = embed!("sqlite/leaky.rs");
pub static SQLITE_DATABASE: File = embed!("sqlite/safe/database.rs");
pub static SQLITE_STATEMENT: File = embed!("sqlite/safe/statement.rs");
pub static SQLITE_STRING: File = embed!("sqlite/safe/string.rs");
#[cfg(feature = "mariadb")]
pub static MARIADB_LEAKY: File = embed!("mariadb/leaky.rs");
#[cfg(feature = "mariadb")]
pub static MARIADB_SAFE: File = embed!("mariadb/safe.rs");
pub static C_RESULT: File = File {
    path: "csrc/connector/result.c",
    text: include_str!("../../csrc/connector/result.c"),
};

/// One item of source: a function, a type, an impl block or a module.
#[derive(Clone, Copy)]
pub struct Item {
    /// `None`: the scenario's own file.
    file: Option<&'static File>,
    /// The item's first line, indentation included, as far as it is needed
    /// to be the only line of the file that starts so.
    header: &'static str,
}

impl Item {
    /// An item of the scenario's own file.
    pub const fn here(header: &'static str) -> Item {
        Item { file: None, header }
    }

    /// The leaky workload itself, where the mistake is in the workload.
    pub const LEAKY_WORKLOAD: Item = Item::here("fn leaky(");
    /// The safe workload itself, where the fix is in the workload.
    pub const SAFE_WORKLOAD: Item = Item::here("fn safe(");

    /// Whether this is one of the scenario's workloads, which `explain`
    /// shows as their diff.
    pub fn is_workload(&self) -> bool {
        self.file.is_none() && matches!(self.header, "fn leaky(" | "fn safe(")
    }

    /// An item of another file.
    pub const fn of(file: &'static File, header: &'static str) -> Item {
        Item {
            file: Some(file),
            header,
        }
    }

    /// The item's file path and text, its doc comment included, given the
    /// scenario's own file; `Err` says why the reference does not resolve.
    pub fn resolve(&self, own: &File) -> Result<(&'static str, String), String> {
        let file = self.file.unwrap_or(own);
        let path = self.file.map_or(own.path, |f| f.path);
        let text = extract(file.text, self.header).map_err(|e| format!("{path}: {e}"))?;
        Ok((path, text))
    }
}

/// A scenario's mistake and its fix.
#[derive(Clone, Copy)]
pub struct Code {
    pub leaky: &'static [Item],
    pub safe: &'static [Item],
}

/// The item whose first line is the only one starting with `header`: the
/// doc comments and attributes above it, then every line to its closing
/// brace at the same indentation (or the one line, if it ends with `;`).
pub fn extract(source: &str, header: &str) -> Result<String, String> {
    let lines: Vec<&str> = source.lines().collect();
    let mut starts = (0..lines.len()).filter(|&i| lines[i].starts_with(header));
    let (Some(start), None) = (starts.next(), starts.next()) else {
        return Err(format!("not exactly one line starts with {header:?}"));
    };
    let indent = &lines[start][..lines[start].len() - lines[start].trim_start().len()];
    let docs = lines[..start]
        .iter()
        .rev()
        .take_while(|l| {
            let l = l.trim_start();
            ["///", "#[", "/*", "*"].iter().any(|p| l.starts_with(p))
        })
        .count();
    let one_line = lines[start].trim_end().ends_with(';');
    let end = if one_line {
        start
    } else {
        let closing = |l: &&str| {
            l.strip_prefix(indent)
                .is_some_and(|r| r == "}" || r == "};")
        };
        start
            + lines[start..]
                .iter()
                .position(closing)
                .ok_or_else(|| format!("{header:?} has no closing brace"))?
    };
    let mut out = String::new();
    for line in &lines[start - docs..=end] {
        out.push_str(line);
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = "\
/// Doc.
fn a() {
    x();
}

impl B {
    /// Method doc.
    pub fn c(&self) {
        if y {
        }
    }
}
static D: u8 = 0;
";

    #[test]
    fn an_item_runs_from_its_docs_to_its_closing_brace() {
        assert_eq!(
            extract(SOURCE, "fn a(").unwrap(),
            "/// Doc.\nfn a() {\n    x();\n}\n"
        );
        assert_eq!(
            extract(SOURCE, "    pub fn c(").unwrap(),
            "    /// Method doc.\n    pub fn c(&self) {\n        if y {\n        }\n    }\n"
        );
        assert_eq!(extract(SOURCE, "static D").unwrap(), "static D: u8 = 0;\n");
    }

    #[test]
    fn a_missing_or_ambiguous_header_is_an_error() {
        assert!(extract(SOURCE, "fn z(").is_err());
        assert!(extract(SOURCE, "").is_err());
    }
}

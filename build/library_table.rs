//! The system C libraries the lab binds: one entry each. build.rs links
//! them (pkg-config), bindgen binds them (the `bindgen` feature) into the
//! committed `src/sys/<module>_bindings.rs`, `crate::sys::<module>` includes
//! that file, and tests/bindings_fresh.rs checks it. Adding a library starts
//! with one entry here (EXTENDING.md).
//!
//! Nothing here is C: bindgen reads `#include <header>` and keeps only what
//! the allowlists name. A function-like macro (zlib's `deflateInit2`) is not
//! a function: allowlist the function it expands to (`deflateInit2_`).

#[cfg_attr(not(feature = "bindgen"), allow(dead_code))]
pub struct Library {
    /// `crate::sys::<module>`, `src/sys/<module>_bindings.rs`.
    pub module: &'static str,
    /// The pkg-config package and the oldest version with every function
    /// the lab binds.
    pub pkg_config: &'static str,
    pub min_version: &'static str,
    /// The Debian package that provides the pkg-config file and headers.
    pub debian_package: &'static str,
    /// The header bindgen reads.
    pub header: &'static str,
    /// bindgen allowlists (regular expressions; empty: none).
    pub functions: &'static str,
    pub types: &'static str,
    pub vars: &'static str,
}

pub const LIBRARIES: &[Library] = &[
    Library {
        module: "sqlite",
        pkg_config: "sqlite3",
        // sqlite3_expanded_sql is the newest function bound (3.14).
        min_version: "3.14.0",
        debian_package: "libsqlite3-dev",
        header: "sqlite3.h",
        functions: "sqlite3_(open_v2|close|close_v2|exec|free|errmsg|prepare_v2|bind_int64|step\
                    |finalize|expanded_sql|column_count|column_int64|column_text|column_bytes)",
        types: "",
        vars: "SQLITE_(OK|ERROR|BUSY|NOMEM|CANTOPEN|MISUSE|RANGE|ROW|DONE|OPEN_READWRITE\
               |OPEN_CREATE)",
    },
    Library {
        module: "zlib",
        pkg_config: "zlib",
        min_version: "1.2.0",
        debian_package: "zlib1g-dev",
        header: "zlib.h",
        functions: "(deflateInit2_|deflate|deflateEnd|zlibVersion)",
        types: "z_stream",
        vars: "Z_(OK|STREAM_END|FINISH|NO_FLUSH|DEFLATED|DEFAULT_STRATEGY|DEFAULT_COMPRESSION\
               |MEM_ERROR|STREAM_ERROR|BUF_ERROR)|MAX_WBITS|MAX_MEM_LEVEL",
    },
    Library {
        module: "libxml2",
        pkg_config: "libxml-2.0",
        min_version: "2.9.0",
        debian_package: "libxml2-dev",
        header: "libxml/parser.h",
        functions: "xml(ReadMemory|FreeDoc|DocGetRootElement|InitParser|GetLastError|ResetLastError)",
        types: "(_xmlDoc|_xmlNode|_xmlError|xmlParserOption)",
        vars: "XML_PARSE_(NODICT|NONET|NOERROR|NOWARNING)",
    },
];

//! The C libraries the lab binds: one entry each. build.rs links them (a
//! system library through pkg-config, SQLite through the `libsqlite3-sys`
//! crate, which compiles the amalgamation it bundles), bindgen binds them (the `bindgen` feature) into the
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
    /// Where the compiled library and its header come from.
    pub link: Link,
    /// The header bindgen reads.
    pub header: &'static str,
    /// bindgen allowlists (regular expressions; empty: none).
    pub functions: &'static str,
    pub types: &'static str,
    pub vars: &'static str,
}

/// How build.rs links a library and where bindgen finds its header.
pub enum Link {
    /// The system's library, found by pkg-config.
    System {
        /// The pkg-config package and the oldest version with every
        /// function the lab binds.
        pkg_config: &'static str,
        min_version: &'static str,
        /// The Debian package that provides the pkg-config file and headers.
        debian_package: &'static str,
    },
    /// A `-sys` crate in Cargo.toml's dependencies compiles the library
    /// from the source it ships and links it statically, the same build on
    /// every machine. Its build script reports the directory of the header
    /// (`cargo:include`), which Cargo hands to build.rs as `include_env`
    /// (`DEP_<links>_INCLUDE`).
    Bundled {
        krate: &'static str,
        include_env: &'static str,
    },
}

impl Link {
    /// "The system's zlib", "The sqlite library bundled by the
    /// libsqlite3-sys crate".
    pub fn describe(&self, module: &str) -> String {
        match self {
            Link::System { pkg_config, .. } => format!("The system's {pkg_config}"),
            Link::Bundled { krate, .. } => {
                format!("The {module} library bundled by the {krate} crate")
            }
        }
    }
}

pub const LIBRARIES: &[Library] = &[
    Library {
        module: "sqlite",
        // Bundled, so the footprints of src/scenarios/sqlite_footprint.rs
        // (SQLite's allocator as this build compiles it) hold on any
        // machine. The crate's build compiles the amalgamation with cc.
        link: Link::Bundled {
            krate: "libsqlite3-sys",
            include_env: "DEP_SQLITE3_INCLUDE",
        },
        header: "sqlite3.h",
        functions: "sqlite3_(open_v2|close|close_v2|exec|free|errmsg|prepare_v2|bind_int64|step\
                    |finalize|expanded_sql|column_count|column_int64|column_text|column_bytes)",
        types: "",
        vars: "SQLITE_(OK|ERROR|BUSY|NOMEM|CANTOPEN|MISUSE|RANGE|ROW|DONE|OPEN_READWRITE\
               |OPEN_CREATE)",
    },
    Library {
        module: "zlib",
        link: Link::System {
            pkg_config: "zlib",
            min_version: "1.2.0",
            debian_package: "zlib1g-dev",
        },
        header: "zlib.h",
        functions: "(deflateInit2_|deflate|deflateEnd|zlibVersion)",
        types: "z_stream",
        vars: "Z_(OK|STREAM_END|FINISH|NO_FLUSH|DEFLATED|DEFAULT_STRATEGY|DEFAULT_COMPRESSION\
               |MEM_ERROR|STREAM_ERROR|BUF_ERROR)|MAX_WBITS|MAX_MEM_LEVEL",
    },
    Library {
        module: "libxml2",
        link: Link::System {
            pkg_config: "libxml-2.0",
            min_version: "2.9.0",
            debian_package: "libxml2-dev",
        },
        header: "libxml/parser.h",
        functions: "xml(ReadMemory|FreeDoc|DocGetRootElement|InitParser|GetLastError|ResetLastError)",
        types: "(_xmlDoc|_xmlNode|_xmlError|xmlParserOption)",
        vars: "XML_PARSE_(NODICT|NONET|NOERROR|NOWARNING)",
    },
];

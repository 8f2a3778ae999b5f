//! The C libraries the lab binds: one entry each. build.rs links them (a
//! system library through pkg-config, SQLite through the `libsqlite3-sys`
//! crate, which compiles the amalgamation it bundles), bindgen binds them (the `bindgen` feature) into the
//! committed `src/sys/<module>_bindings.rs`, `crate::sys::<module>` includes
//! that file, and tests/bindings_fresh.rs checks it. Adding a library starts
//! with one entry here (EXTENDING.md).
//!
//! Nothing here is C: bindgen reads `#include <header>` for each of
//! `headers` and keeps only what the allowlists name. A function-like macro (zlib's `deflateInit2`) is not
//! a function: allowlist the function it expands to (`deflateInit2_`).

#[cfg_attr(not(feature = "bindgen"), allow(dead_code))]
pub struct Library {
    /// `crate::sys::<module>`, `src/sys/<module>_bindings.rs`.
    pub module: &'static str,
    /// Where the compiled library and its header come from.
    pub link: Link,
    /// The headers bindgen reads, in this order (one `#include <...>` line
    /// each): a library whose API is split over several headers names each.
    pub headers: &'static [&'static str],
    /// bindgen allowlists (regular expressions; empty: none).
    pub functions: &'static str,
    pub types: &'static str,
    pub vars: &'static str,
    /// Types bound as opaque blobs of the right size and alignment (a
    /// regular expression passed to bindgen's `opaque_type`; empty: none):
    /// the ones whose fields the code never reads, so a struct that points
    /// at many others (a parser at its tokens, documents, nodes) does not
    /// pull every one of them, field by field, into the bindings.
    pub opaque: &'static str,
    /// The cargo feature that turns the library on (`None`: always on).
    /// Off, build.rs neither links nor binds it and `crate::sys` has no
    /// module for it, so a machine without it builds the rest.
    pub feature: Option<&'static str>,
}

impl Library {
    /// Whether this build has the library: always, or with its feature on
    /// (Cargo tells build scripts as `CARGO_FEATURE_<NAME>`).
    #[cfg_attr(not(feature = "bindgen"), allow(dead_code))]
    pub fn enabled(&self) -> bool {
        self.feature.is_none_or(|f| {
            let var = format!("CARGO_FEATURE_{}", f.to_uppercase().replace('-', "_"));
            std::env::var_os(var).is_some()
        })
    }
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
        headers: &["sqlite3.h"],
        functions: "sqlite3_(open_v2|close|close_v2|exec|free|errmsg|prepare_v2|bind_int64|step\
                    |finalize|expanded_sql|column_count|column_int64|column_text|column_bytes)",
        types: "",
        vars: "SQLITE_(OK|ERROR|BUSY|NOMEM|CANTOPEN|MISUSE|RANGE|ROW|DONE|OPEN_READWRITE\
               |OPEN_CREATE)",
        opaque: "",
        feature: None,
    },
    Library {
        module: "zlib",
        link: Link::System {
            pkg_config: "zlib",
            min_version: "1.2.0",
            debian_package: "zlib1g-dev",
        },
        headers: &["zlib.h"],
        functions: "(deflateInit2_|deflate|deflateEnd|zlibVersion)",
        types: "z_stream",
        vars: "Z_(OK|STREAM_END|FINISH|NO_FLUSH|DEFLATED|DEFAULT_STRATEGY|DEFAULT_COMPRESSION\
               |MEM_ERROR|STREAM_ERROR|BUF_ERROR)|MAX_WBITS|MAX_MEM_LEVEL",
        opaque: "",
        feature: None,
    },
    Library {
        module: "libxml2",
        link: Link::System {
            pkg_config: "libxml-2.0",
            min_version: "2.9.0",
            debian_package: "libxml2-dev",
        },
        headers: &["libxml/parser.h"],
        functions: "xml(ReadMemory|FreeDoc|DocGetRootElement|InitParser|GetLastError|ResetLastError)",
        types: "(_xmlDoc|_xmlNode|_xmlError|xmlParserOption)",
        vars: "XML_PARSE_(NODICT|NONET|NOERROR|NOWARNING)",
        opaque: "",
        feature: None,
    },
    Library {
        module: "libyaml",
        link: Link::System {
            pkg_config: "yaml-0.1",
            min_version: "0.1.0",
            debian_package: "libyaml-dev",
        },
        headers: &["yaml.h"],
        functions: "yaml_(parser_(initialize|set_input_string|parse|delete)|event_delete)",
        types: "yaml_(parser|event)_t",
        vars: "",
        // The parser points at its tokens, keys, aliases, a document (nodes,
        // pairs, items) and a FILE: never read here, bound as sized blobs.
        opaque: "yaml_(token|simple_key|alias_data|document|node|node_pair)_[st]|_IO_FILE",
        feature: None,
    },
    Library {
        module: "expat",
        link: Link::System {
            pkg_config: "expat",
            min_version: "2.0.0",
            debian_package: "libexpat1-dev",
        },
        headers: &["expat_external.h", "expat.h"],
        functions: "XML_(ParserCreate|ParserFree|Parse|GetErrorCode|ErrorString|SetUserData\
                    |SetStartElementHandler)",
        types: "XML_(Parser|Status|Error)",
        vars: "",
        opaque: "",
        feature: None,
    },
    Library {
        module: "mariadb",
        // MariaDB Connector/C: the MySQL C client API the connector stands
        // in for (src/mariadb/). Behind the `mariadb` feature, since its
        // scenarios need a MariaDB server (src/mariadb/server.rs) as well.
        link: Link::System {
            pkg_config: "libmariadb",
            min_version: "3.1.0",
            debian_package: "libmariadb-dev",
        },
        headers: &["mysql.h"],
        functions: "mysql_(init|real_connect|close|real_query|store_result|fetch_row\
                    |fetch_lengths|num_fields|num_rows|free_result|error|errno\
                    |real_escape_string|stmt_(init|prepare|result_metadata|close|error)\
                    |fetch_field_direct)",
        types: "(MYSQL|MYSQL_RES|MYSQL_ROW|MYSQL_STMT|MYSQL_FIELD)",
        vars: "",
        opaque: "",
        feature: Some("mariadb"),
    },
];

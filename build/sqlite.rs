//! The system's libsqlite3, found with pkg-config (Debian: libsqlite3-dev).
//! pkg-config prints the link flags (`-lsqlite3`); the include paths it
//! reports go to the C compiler (for csrc/sqlite/lab_sqlite_mem.c, SQLite's
//! allocator hook) and to bindgen (for src/sys/sqlite_bindings.rs).

use std::path::PathBuf;

/// The oldest SQLite with every function the lab binds
/// (sqlite3_expanded_sql is the newest, from 3.14).
const MIN_VERSION: &str = "3.14.0";

/// Links libsqlite3 and returns its include paths (often none: /usr/include).
pub fn link() -> Vec<PathBuf> {
    match pkg_config::Config::new()
        .atleast_version(MIN_VERSION)
        .probe("sqlite3")
    {
        Ok(library) => library.include_paths,
        Err(e) => panic!(
            "leaklab links the system's libsqlite3 >= {MIN_VERSION} through pkg-config, \
             which could not find it: install it (Debian/Ubuntu: apt-get install \
             libsqlite3-dev pkg-config).\n{e}"
        ),
    }
}

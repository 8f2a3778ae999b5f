//! The preload shim travels inside the binary: build.rs builds the
//! `leaklab-preload` cdylib at this crate's build time, and this embeds
//! its bytes ([`EMBEDDED`]). The first use writes them to a cache
//! directory, as `<content hash>/libleaklab_preload.so` (so two versions
//! of leaklab never share a file), and later uses find them there:
//! `cargo install` installs binaries only, and nothing is ever written
//! beside them or into a source checkout.
//!
//! The cache directory ([`cache_dir`]) is `$LEAKLAB_CACHE_DIR`, else
//! `$XDG_CACHE_HOME/leaklab`, else `$HOME/.cache/leaklab`. Where it cannot
//! be written (or its path cannot go into `LD_PRELOAD`), the shim goes to
//! a directory of this user's alone in the temporary directory, with a
//! warning on stderr.

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The shim's file name.
pub const FILE: &str = "libleaklab_preload.so";

/// Names the cache directory, before `XDG_CACHE_HOME` and `HOME`.
pub const CACHE_VAR: &str = "LEAKLAB_CACHE_DIR";

/// The shim, as built with this binary.
pub static EMBEDDED: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/libleaklab_preload.so"));

/// A hash of [`EMBEDDED`] (128-bit FNV-1a, in hex, computed by build.rs):
/// the name of its directory in the cache.
pub const HASH: &str = env!("LEAKLAB_SHIM_HASH");

/// The cache directory, from the environment: `$LEAKLAB_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/leaklab` (if absolute, as the XDG spec asks), else
/// `$HOME/.cache/leaklab`; `None` if none of them is set.
pub fn cache_dir() -> Option<PathBuf> {
    cache_dir_from(|name| std::env::var_os(name))
}

fn cache_dir_from(var: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    let set = |name: &str| var(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    set(CACHE_VAR)
        .or_else(|| {
            set("XDG_CACHE_HOME")
                .filter(|p| p.is_absolute())
                .map(|p| p.join("leaklab"))
        })
        .or_else(|| set("HOME").map(|home| home.join(".cache").join("leaklab")))
}

/// The embedded shim as a file `LD_PRELOAD` can name: in the cache
/// directory, written there on the first call (of any process) and reused
/// after; else in a temporary directory, with a warning. Once per process:
/// later calls return the first one's answer. The error is the reason in a
/// few words.
pub fn install() -> Result<PathBuf, String> {
    static INSTALLED: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    INSTALLED.get_or_init(install_now).clone()
}

fn install_now() -> Result<PathBuf, String> {
    let why = match cache_dir() {
        Some(dir) => match install_in(&dir) {
            Ok(path) => return Ok(path),
            Err(e) => e,
        },
        None => format!("no cache directory ({CACHE_VAR}, XDG_CACHE_HOME and HOME are unset)"),
    };
    let path = private_dir_in(&std::env::temp_dir())
        .and_then(|dir| install_in(&dir))
        .map_err(|e| format!("the preload shim has nowhere to go: {why}; and {e}"))?;
    eprintln!(
        "leaklab: warning: {why}; the preload shim is written to {} instead (set {CACHE_VAR} to a writable directory)",
        path.display()
    );
    Ok(path)
}

/// [`EMBEDDED`] as `<root>/<HASH>/libleaklab_preload.so`.
pub fn install_in(root: &Path) -> Result<PathBuf, String> {
    install_bytes(root, HASH, EMBEDDED)
}

/// `bytes` as `<root>/<hash>/libleaklab_preload.so`, mode 0755: reused if
/// a file of that size is there, else written to a temporary file beside
/// it and renamed over it, so a process that reads it, or another writing
/// it at the same time, never sees a partial file.
fn install_bytes(root: &Path, hash: &str, bytes: &[u8]) -> Result<PathBuf, String> {
    let dir = root.join(hash);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let dir = std::fs::canonicalize(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join(FILE);
    preloadable(&path)?;
    let len = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    if std::fs::metadata(&path).is_ok_and(|m| m.is_file() && m.len() == len) {
        return Ok(path);
    }
    let cannot = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    let mut file = tempfile::Builder::new()
        .prefix(".libleaklab_preload.so.")
        .tempfile_in(&dir)
        .map_err(cannot)?;
    file.write_all(bytes).map_err(cannot)?;
    file.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o755))
        .map_err(cannot)?;
    file.persist(&path).map_err(|e| cannot(e.error))?;
    Ok(path)
}

/// Ok if `LD_PRELOAD` can carry `path` (it splits on spaces and colons).
pub fn preloadable(path: &Path) -> Result<(), String> {
    let text = path.to_string_lossy();
    if text.contains([' ', ':']) {
        return Err(format!("LD_PRELOAD cannot name {text} (a space or colon)"));
    }
    Ok(())
}

/// `<tmp>/leaklab-<uid>` (`tmp`: `$TMPDIR` or /tmp), mode 0700: made if
/// missing, and refused unless it is a directory (not a link) that this
/// user owns and no one else may write, as a library others could replace
/// must never be preloaded.
fn private_dir_in(tmp: &Path) -> Result<PathBuf, String> {
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    let dir = tmp.join(format!("leaklab-{uid}"));
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("cannot create {}: {e}", dir.display())),
    }
    let meta = std::fs::symlink_metadata(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if !meta.is_dir() || meta.uid() != uid || meta.mode() & 0o022 != 0 {
        return Err(format!(
            "{} is not a directory of this user's alone",
            dir.display()
        ));
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn the_cache_directory_is_the_first_of_three_variables_set() {
        let all = [(CACHE_VAR, "/c"), ("XDG_CACHE_HOME", "/x"), ("HOME", "/h")];
        assert_eq!(cache_dir_from(env(&all)), Some(PathBuf::from("/c")));
        assert_eq!(
            cache_dir_from(env(&all[1..])),
            Some(PathBuf::from("/x/leaklab"))
        );
        assert_eq!(
            cache_dir_from(env(&all[2..])),
            Some(PathBuf::from("/h/.cache/leaklab"))
        );
        assert_eq!(cache_dir_from(env(&[])), None);
        // Empty is unset; a relative XDG_CACHE_HOME is ignored (XDG spec).
        let odd = [(CACHE_VAR, ""), ("XDG_CACHE_HOME", "rel"), ("HOME", "/h")];
        assert_eq!(
            cache_dir_from(env(&odd)),
            Some(PathBuf::from("/h/.cache/leaklab"))
        );
    }

    #[test]
    fn the_embedded_shim_is_a_shared_object_named_by_its_hash() {
        assert!(EMBEDDED.starts_with(b"\x7fELF"), "an ELF file");
        assert_eq!(HASH.len(), 32);
        assert!(HASH.bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn the_first_use_writes_it_and_later_ones_reuse_it() {
        let root = tempfile::tempdir().unwrap();
        let path = install_in(root.path()).unwrap();
        let expected = std::fs::canonicalize(root.path())
            .unwrap()
            .join(HASH)
            .join(FILE);
        assert_eq!(path, expected);
        assert_eq!(std::fs::read(&path).unwrap(), EMBEDDED);
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o755);
        let written = meta.modified().unwrap();
        assert_eq!(install_in(root.path()).unwrap(), path);
        assert_eq!(
            std::fs::metadata(&path).unwrap().modified().unwrap(),
            written,
            "reused, not written again"
        );
        let entries = std::fs::read_dir(path.parent().unwrap()).unwrap().count();
        assert_eq!(entries, 1, "no temporary file left behind");
    }

    #[test]
    fn a_file_of_another_size_is_replaced_and_another_hash_kept_apart() {
        let root = tempfile::tempdir().unwrap();
        let path = install_bytes(root.path(), "aa", b"old").unwrap();
        std::fs::write(&path, b"trunc").unwrap();
        let again = install_bytes(root.path(), "aa", b"new bytes").unwrap();
        assert_eq!(again, path);
        assert_eq!(std::fs::read(&path).unwrap(), b"new bytes");
        let other = install_bytes(root.path(), "bb", b"other").unwrap();
        assert_ne!(other, path);
        assert_eq!(std::fs::read(&path).unwrap(), b"new bytes");
    }

    #[test]
    fn an_unwritable_cache_is_an_error_naming_it() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("a-file");
        std::fs::write(&file, b"").unwrap();
        // Under a regular file: no directory can be made there, even by root.
        let err = install_in(&file.join("cache")).unwrap_err();
        assert!(err.starts_with("cannot create "), "{err}");
        assert!(err.contains("a-file"), "{err}");
    }

    #[test]
    fn a_path_ld_preload_cannot_carry_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let err = install_in(&root.path().join("with space")).unwrap_err();
        assert!(err.contains("a space or colon"), "{err}");
    }

    #[test]
    fn the_private_temp_dir_is_this_users_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = private_dir_in(tmp.path()).unwrap();
        let meta = std::fs::symlink_metadata(&dir).unwrap();
        assert!(meta.is_dir());
        assert_eq!(meta.mode() & 0o077, 0, "{:o}", meta.mode());
        assert_eq!(private_dir_in(tmp.path()).unwrap(), dir, "found again");
        // One anyone may write, or a link, is refused.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = private_dir_in(tmp.path()).unwrap_err();
        assert!(
            err.ends_with("is not a directory of this user's alone"),
            "{err}"
        );
        std::fs::remove_dir(&dir).unwrap();
        std::os::unix::fs::symlink(tmp.path(), &dir).unwrap();
        assert!(private_dir_in(tmp.path()).is_err());
    }
}

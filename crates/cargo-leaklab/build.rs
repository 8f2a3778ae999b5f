//! What the crate's code reads from its build:
//!
//! - `LEAKLAB_TARGET`: the target triple, for `cargo leaklab test`'s
//!   `CARGO_TARGET_<TRIPLE>_RUNNER`;
//! - the preload shim, embedded: the crate `leaklab-preload` (a cdylib on
//!   the user crate `leaklab`) built by a nested `cargo build --release`
//!   into `$OUT_DIR/shim`, copied to `$OUT_DIR/libleaklab_preload.so`
//!   (which src/shim.rs `include_bytes!`), and `LEAKLAB_SHIM_HASH`, a hash
//!   of its bytes that names its cache directory at run time.
//!
//! Where the sources are: the shim's are in `shim/` (links to
//! `crates/leaklab-preload/src`, which `cargo package` stores as files, so
//! a packaged cargo-leaklab carries them), and the user crate's are where
//! its build-dependency `leaklab` says (`leaklab::SOURCE_DIR`: a checkout's
//! crate, or the package cargo unpacked). The nested build's manifest is
//! written to `$OUT_DIR/shim-src` (a standalone package whose library is
//! `shim/lib.rs`, with the shim's dependencies), with a copy of the lock
//! file next to this crate's manifest or its workspace's, if there is one:
//! nothing is ever written into the sources.
//!
//! The nested build is isolated from the outer one: its own target
//! directory, the outer build's target triple, and none of the environment
//! cargo sets for build scripts (or the user set for the outer build) that
//! would change what it builds or where: target directory, flags,
//! compiler wrappers, jobserver, profile overrides.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The shim's file name, as cargo builds it and as it is embedded.
const SHIM_FILE: &str = "libleaklab_preload.so";

fn main() {
    let target = var("TARGET");
    println!("cargo::rustc-env=LEAKLAB_TARGET={target}");

    let manifest_dir = PathBuf::from(var("CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(var("OUT_DIR"));
    let shim = manifest_dir.join("shim");
    let leaklab = Path::new(leaklab::SOURCE_DIR);
    // What the shim is built from: its sources and the user crate it is
    // built on (the interposer).
    for path in [
        shim.join("lib.rs"),
        leaklab.join("Cargo.toml"),
        leaklab.join("build.rs"),
        leaklab.join("src"),
    ] {
        println!("cargo::rerun-if-changed={}", path.display());
    }
    let manifest = write_manifest(&out_dir.join("shim-src"), &shim, leaklab, &manifest_dir);

    let target_dir = out_dir.join("shim");
    let built = build(&manifest, &target, &target_dir);
    let bytes = std::fs::read(&built).unwrap_or_else(|e| {
        fail(&format!(
            "the shim's build left no {}: {e}",
            built.display()
        ))
    });
    let embedded = out_dir.join(SHIM_FILE);
    std::fs::write(&embedded, &bytes)
        .unwrap_or_else(|e| fail(&format!("{}: {e}", embedded.display())));
    println!(
        "cargo::rustc-env=LEAKLAB_SHIM_HASH={:032x}",
        fnv1a_128(&bytes)
    );
}

/// The nested build's manifest, in `dir`: a standalone package whose
/// library is the shim's (its dependencies as in crates/leaklab-preload's
/// manifest, the user crate by path), and the lock file that pins the outer build's
/// versions, where there is one (a checkout's workspace, or a package's).
fn write_manifest(dir: &Path, shim: &Path, leaklab: &Path, manifest_dir: &Path) -> PathBuf {
    let quoted = |path: &Path| format!("{:?}", path.display().to_string());
    let manifest = format!(
        "[package]\n\
         name = \"leaklab-preload\"\n\
         version = \"0.0.0\"\n\
         edition = \"2024\"\n\
         publish = false\n\n\
         [lib]\n\
         name = \"leaklab_preload\"\n\
         path = {}\n\
         crate-type = [\"cdylib\"]\n\n\
         [dependencies]\n\
         libc = \"0.2\"\n\
         leaklab = {{ path = {} }}\n\n\
         [workspace]\n{}",
        quoted(&shim.join("lib.rs")),
        quoted(leaklab),
        unpacked_macros(leaklab)
            .map(|dir| format!(
                "\n[patch.crates-io]\nleaklab-macros = {{ path = {} }}\n",
                quoted(&dir)
            ))
            .unwrap_or_default(),
    );
    let write = |path: PathBuf, text: &[u8]| {
        std::fs::write(&path, text).unwrap_or_else(|e| fail(&format!("{}: {e}", path.display())));
    };
    std::fs::create_dir_all(dir).unwrap_or_else(|e| fail(&format!("{}: {e}", dir.display())));
    write(dir.join("Cargo.toml"), manifest.as_bytes());
    let lock = [
        manifest_dir.join("Cargo.lock"),
        manifest_dir.join("../../Cargo.lock"),
    ]
    .into_iter()
    .find(|p| p.is_file());
    if let Some(lock) = lock {
        println!("cargo::rerun-if-changed={}", lock.display());
        let text =
            std::fs::read(&lock).unwrap_or_else(|e| fail(&format!("{}: {e}", lock.display())));
        write(dir.join("Cargo.lock"), &text);
    }
    dir.join("Cargo.toml")
}

/// The macro crate cargo unpacked beside an unpacked `leaklab`
/// (`…/leaklab-0.1.0` and `…/leaklab-macros-0.1.0`), for a build of the
/// packages before they are on a registry (`cargo package`'s check). In a
/// checkout, `leaklab` names it by path itself.
fn unpacked_macros(leaklab: &Path) -> Option<PathBuf> {
    let version = leaklab.file_name()?.to_str()?.strip_prefix("leaklab-")?;
    let dir = leaklab.parent()?.join(format!("leaklab-macros-{version}"));
    dir.join("Cargo.toml").is_file().then_some(dir)
}

/// The shim's code generation flags (x86-64), as scripts/perf/hot-path.sh
/// builds it too.
const SHIM_RUSTFLAGS: &str = "-Cllvm-args=-enable-tlsdesc";

/// Runs the nested build and returns the cdylib it made. Offline first
/// (everything it needs was downloaded for the outer build: it builds
/// `leaklab` and its dependencies, which cargo-leaklab depends on too);
/// if cargo says the offline build lacks something, once more online.
fn build(manifest: &Path, target: &str, target_dir: &Path) -> PathBuf {
    let mut why = String::new();
    for offline in [true, false] {
        let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        cmd.args(["build", "--release"])
            .arg("--manifest-path")
            .arg(manifest)
            .args(["--target", target])
            .arg("--target-dir")
            .arg(target_dir);
        if offline {
            cmd.arg("--offline");
        }
        // The outer build's share of the machine, without its jobserver.
        if let Ok(jobs) = std::env::var("NUM_JOBS") {
            cmd.args(["-j", &jobs]);
        }
        for (key, _) in std::env::vars_os() {
            if leaks_into_nested_build(&key) {
                cmd.env_remove(&key);
            }
        }
        // No line tables: the shim is embedded in both binaries, and the
        // workspace's release profile (debug = 1) would make it 6.6 MB in
        // each instead of 0.5 MB. Its symbols stay.
        cmd.env("CARGO_PROFILE_RELEASE_DEBUG", "false")
            .env("CARGO_PROFILE_RELEASE_STRIP", "debuginfo");
        // The shim's thread-local state through a TLS descriptor, not
        // `__tls_get_addr`: for a library loaded at start-up (static TLS)
        // the descriptor's resolver returns the offset at once, 29 fewer
        // instructions per malloc and free pair (BENCHMARKS.md section 2).
        if target.starts_with("x86_64-") {
            cmd.env("CARGO_ENCODED_RUSTFLAGS", SHIM_RUSTFLAGS);
        }
        // Under `cargo miri`, RUSTC is Miri's driver acting as rustc for
        // the interpreted target (MIRI_BE_RUSTC), with `cfg(miri)` and
        // Miri's sysroot: the shim is built by the toolchain's own rustc,
        // cargo's sibling, instead (else `rustc` on PATH).
        if std::env::var_os("MIRI_BE_RUSTC").is_some() {
            cmd.env_remove("RUSTC");
            let cargo = PathBuf::from(std::env::var_os("CARGO").unwrap_or_default());
            let rustc = cargo.with_file_name("rustc");
            if cargo.is_absolute() && rustc.is_file() {
                cmd.env("RUSTC", rustc);
            }
        }
        let output = cmd
            .output()
            .unwrap_or_else(|e| fail(&format!("cannot run cargo for the shim's build: {e}")));
        if output.status.success() {
            return target_dir.join(target).join("release").join(SHIM_FILE);
        }
        why = String::from_utf8_lossy(&output.stderr).into_owned();
        if !(offline && why.contains("offline")) {
            break;
        }
    }
    fail(&format!(
        "the LD_PRELOAD shim (leaklab-preload), which cargo-leaklab embeds, did not \
         build; the nested cargo build said:\n{why}"
    ))
}

/// Whether a variable of the build script's environment must not reach
/// the nested build: what cargo sets for build scripts (their package,
/// features, cfg, profile, OUT_DIR, jobserver, wrappers, encoded flags,
/// Miri's settings) and what a user may set for the outer build (target
/// directory, target, flags, profile overrides, clippy's driver) would
/// change what the nested cargo builds or where.
fn leaks_into_nested_build(key: &OsString) -> bool {
    let Some(key) = key.to_str() else {
        return false;
    };
    const EXACT: [&str; 23] = [
        "CARGO_TARGET_DIR",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_ENCODED_RUSTDOCFLAGS",
        "RUSTFLAGS",
        "RUSTDOCFLAGS",
        "CARGO_MAKEFLAGS",
        "MAKEFLAGS",
        "MFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_LINKER",
        "RUSTDOC",
        "CLIPPY_ARGS",
        "CLIPPY_CONF_DIR",
        "CARGO_INCREMENTAL",
        "CARGO_PRIMARY_PACKAGE",
        "OUT_DIR",
        "TARGET",
        "HOST",
        "NUM_JOBS",
        "OPT_LEVEL",
        "DEBUG",
        "PROFILE",
    ];
    const PREFIXES: [&str; 11] = [
        "CARGO_BUILD_",
        "CARGO_TARGET_",
        "CARGO_PROFILE_",
        "CARGO_UNSTABLE_",
        "CARGO_CFG_",
        "CARGO_FEATURE_",
        "CARGO_PKG_",
        "CARGO_MANIFEST_",
        "DEP_",
        "__CARGO",
        "MIRI_",
    ];
    EXACT.contains(&key) || PREFIXES.iter().any(|p| key.starts_with(p))
}

/// FNV-1a, 128 bits: names the shim's cache directory, so two builds of
/// different bytes never share one (not a defence against anyone: the
/// cache is the user's own).
fn fnv1a_128(bytes: &[u8]) -> u128 {
    const OFFSET: u128 = 0x6c62272e07bb014262b821756295c58d;
    const PRIME: u128 = 0x0000000001000000000000000000013b;
    bytes.iter().fold(OFFSET, |hash, &b| {
        (hash ^ u128::from(b)).wrapping_mul(PRIME)
    })
}

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| fail(&format!("cargo did not set {name}")))
}

/// Stops the build with one message (cargo prints it under the failed
/// build script).
fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1)
}

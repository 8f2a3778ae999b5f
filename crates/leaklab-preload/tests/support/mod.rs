//! Helpers for the tests that run a program under the preload shim: the
//! shim built for this test binary's profile, a watcher page, and a run
//! under a deadline.
//!
//! The program is the test binary itself, run again with the shim in
//! `LD_PRELOAD`: it does not link `leaklab`, so its `malloc` is the shim's.

#![allow(dead_code)] // each test binary uses the part it needs

use std::ffi::CStr;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The watcher page's layout (leaklab's watch_page.rs, `#[repr(C)]`): these
/// binaries must not link leaklab, whose interposer would then be their
/// malloc.
pub const MAGIC: u64 = 0x6c65_616b_6c61_6231; // "leaklab1"
pub const PUBLISH_NS_AT: usize = 8;
pub const LIVE_BLOCKS_AT: usize = 32;
pub const LIVE_BYTES_AT: usize = 40;
pub const ALLOCATIONS_AT: usize = 48;
pub const EXITED_AT: usize = 56;
pub const LOST_BLOCKS_AT: usize = 64;
pub const LOST_BYTES_AT: usize = 72;
pub const POSSIBLE_BLOCKS_AT: usize = 80;
pub const POSSIBLE_BYTES_AT: usize = 88;

pub fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The shared object `malloc` resolves to in this process.
pub fn malloc_comes_from() -> String {
    // SAFETY: dladdr with a function address and a zeroed Dl_info; the
    // name it reports is a C string owned by the loader.
    unsafe {
        let mut info: libc::Dl_info = std::mem::zeroed();
        let malloc = libc::dlsym(libc::RTLD_DEFAULT, c"malloc".as_ptr());
        if malloc.is_null() || libc::dladdr(malloc, &mut info) == 0 || info.dli_fname.is_null() {
            return String::from("?");
        }
        CStr::from_ptr(info.dli_fname)
            .to_string_lossy()
            .into_owned()
    }
}

/// Builds the shim for this test binary's profile and returns its path.
pub fn shim() -> PathBuf {
    let exe = std::env::current_exe().expect("this test binary's path");
    // target/<profile>/deps/<test>: the shim lands in target/<profile>/.
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let profile = match dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => "dev",
        Some(other) => other,
    };
    let status = Command::new(env!("CARGO"))
        .args([
            "build",
            "--quiet",
            "-p",
            "leaklab-preload",
            "--profile",
            profile,
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cargo runs");
    assert!(status.success(), "the preload shim builds");
    let path = dir.join("libleaklab_preload.so");
    assert!(path.is_file(), "{} after the build", path.display());
    path
}

/// A watcher page asking for counts every `publish_ns` (0: at exit only,
/// with the scan, as `cargo leaklab test` asks).
pub fn page(publish_ns: u64) -> (TempPath, PathBuf) {
    let file = TempPath::new("leaklab-shim-page");
    // The whole page: the shim maps nothing from a shorter file.
    let mut bytes = vec![0u8; 32 << 10];
    bytes[..8].copy_from_slice(&MAGIC.to_ne_bytes());
    bytes[PUBLISH_NS_AT..PUBLISH_NS_AT + 8].copy_from_slice(&publish_ns.to_ne_bytes());
    std::fs::write(file.path(), bytes).expect("the page is written");
    let path = file.path().to_owned();
    (file, path)
}

pub fn read_u64(page: &Path, at: usize) -> u64 {
    let bytes = std::fs::read(page).expect("the page is readable");
    u64::from_ne_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

/// A temporary file path removed on drop (no dependency for one file).
pub struct TempPath(PathBuf);

impl TempPath {
    pub fn new(stem: &str) -> TempPath {
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        TempPath(std::env::temp_dir().join(format!("{stem}-{}-{n}", std::process::id())))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Runs `command` (stdout and stderr piped), killing it past `deadline`:
/// its status ("killed at the deadline" if so) and its output.
pub fn run_with_deadline(mut command: Command, deadline: Duration) -> (String, String, String) {
    let start = Instant::now();
    let mut child = command.spawn().expect("the preloaded run starts");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("piped")));
    let err = drain(Box::new(child.stderr.take().expect("piped")));
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status.to_string();
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break format!("killed at the deadline, {deadline:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (
        status,
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default(),
    )
}

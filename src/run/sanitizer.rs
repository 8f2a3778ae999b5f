//! Sanitizer builds of the lab (`cargo +nightly lsan`, or a user's own
//! `RUSTFLAGS=-Zsanitizer=leak cargo +nightly build --target ...`): what
//! the parent does differently for their children, and how a sanitizer's
//! own failure is told apart from its leak report.
//!
//! build.rs records the build's sanitizers in `LEAKLAB_SANITIZER`, at
//! build time: a sanitizer build is a different binary, never a run-time
//! mode, and the child it starts is that same binary (unless
//! `LEAKLAB_EXE` names another; see [`startup_failure`] for that case).
//!
//! The memory cap. The parent normally caps a child's address space
//! (RLIMIT_AS). Every sanitizer reserves far more address space than any
//! such cap before `main`: LeakSanitizer maps its allocator's 4 TiB
//! primary region at 0x500000000000, AddressSanitizer and the others map
//! shadow memory over most of the address space. Under a 1 GiB RLIMIT_AS
//! the runtime dies in a CHECK and exits with its `exitcode`, which for
//! the lab's LSan is 23, the same code that means "leaks found". So:
//!
//! - LeakSanitizer: its reservation is PROT_NONE, which RLIMIT_DATA does
//!   not count (Linux counts private writable mappings only, since 4.7);
//!   what the allocator then really maps for blocks it hands out is
//!   counted. The same cap is applied as RLIMIT_DATA instead, and the
//!   child gets `allocator_may_return_null=1` in `LSAN_OPTIONS`, so a
//!   refused allocation comes back to the Rust allocator as null (which
//!   prints its failure marker: the run ends "hit cap", as in a normal
//!   build) rather than as LSan's own out-of-memory report.
//! - Any other sanitizer (address, memory, thread, hwaddress): its shadow
//!   memory is mapped writable, so RLIMIT_DATA would stop it at start-up
//!   too. Its children run with no memory cap, only the time limit, and
//!   [`cap_note`] says so.

/// This build's sanitizers, comma-separated ("" for none).
const BUILD: &str = env!("LEAKLAB_SANITIZER");

/// This build's sanitizers ("leak", "address,leak"), or None.
pub fn build_sanitizers() -> Option<&'static str> {
    (!BUILD.is_empty()).then_some(BUILD)
}

/// How this build caps its children's memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapKind {
    /// RLIMIT_AS: a build without a sanitizer.
    AddressSpace,
    /// RLIMIT_DATA, with LSan told to return null: a LeakSanitizer build.
    Data,
    /// No memory cap: a build with another sanitizer.
    None,
}

/// The cap this build applies to its children.
pub fn cap_kind() -> CapKind {
    cap_kind_for(BUILD)
}

fn cap_kind_for(sanitizers: &str) -> CapKind {
    if sanitizers.is_empty() {
        CapKind::AddressSpace
    } else if sanitizers == "leak" {
        CapKind::Data
    } else {
        CapKind::None
    }
}

/// The `LSAN_OPTIONS` entry a capped LSan child needs (see the module
/// documentation); later entries override earlier ones, so it goes last.
pub const LSAN_CAP_OPTION: &str = "allocator_may_return_null=1";

/// One line for the user when this build caps children other than by
/// their address space, or not at all; None in a normal build.
pub fn cap_note(mem_cap: u64) -> Option<String> {
    let sanitizers = build_sanitizers()?;
    let mib = mem_cap >> 20;
    Some(match cap_kind() {
        CapKind::AddressSpace => return None,
        CapKind::Data => format!(
            "this is a LeakSanitizer build: each child's {mib} MiB memory cap is on its \
             data (RLIMIT_DATA), not its address space, which LSan's allocator reserves \
             terabytes of at start-up"
        ),
        CapKind::None => format!(
            "this is a sanitizer build ({sanitizers}): children run with no memory cap \
             (the sanitizer's shadow memory needs the address space and is writable), \
             only the time limit"
        ),
    })
}

/// Why a build's C side reads zero: the message of a record whose child
/// counted no C allocations, given the child's sanitizers.
pub fn uncounted_message(child_sanitizers: Option<&str>) -> String {
    match child_sanitizers {
        Some(sanitizers) => format!(
            "this is a sanitizer build ({sanitizers}): it has no C allocator interposer (the \
             sanitizer owns malloc), so the C side is not counted here; LeakSanitizer counts \
             it: use --detector lsan"
        ),
        None => "the child's C allocations were not counted (no C allocator interposer in \
                 this build, or another allocator replaced it): its C figures would read zero"
            .into(),
    }
}

/// The sanitizer runtime's own failure in a child's standard error (it
/// could not reserve its memory, an internal CHECK failed), as one line,
/// or None. Such a child found no leak and ran no scenario, whatever its
/// exit code says: LSan exits with its leak `exitcode` after a CHECK.
pub fn startup_failure(stderr: &str) -> Option<String> {
    const SIGNS: [&str; 6] = [
        "CHECK failed",
        "has encountered a fatal error",
        "can not mmap the shadow memory",
        "ReserveShadowMemoryRange failed",
        "Shadow memory range interleaves",
        "failed to allocate",
    ];
    stderr.lines().find_map(|line| {
        let line = line.trim();
        (line.contains("Sanitizer") && SIGNS.iter().any(|s| line.contains(s)))
            .then(|| strip_pid(line).to_owned())
    })
}

/// "==1234==ERROR: ..." without its "==1234==".
fn strip_pid(line: &str) -> &str {
    line.strip_prefix("==")
        .and_then(|rest| rest.split_once("=="))
        .filter(|(pid, _)| pid.chars().all(|c| c.is_ascii_digit()))
        .map_or(line, |(_, rest)| rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_lone_leak_sanitizer_is_capped_on_data() {
        assert_eq!(cap_kind_for(""), CapKind::AddressSpace);
        assert_eq!(cap_kind_for("leak"), CapKind::Data);
        assert_eq!(cap_kind_for("address"), CapKind::None);
        assert_eq!(cap_kind_for("address,leak"), CapKind::None);
    }

    #[test]
    fn start_up_failures_are_recognised_and_leak_reports_are_not() {
        // What the lab's LSan build printed under a 1 GiB RLIMIT_AS.
        let lsan = "LeakSanitizer: CHECK failed: sanitizer_allocator_primary64.h:151 \
                    \"((kSpaceBeg)) == ((address_range.Init(TotalSpaceSize, \
                    PrimaryAllocatorName, kSpaceBeg)))\" (0x500000000000, \
                    0xfffffffffffffff4) (tid=12390)\n";
        assert_eq!(
            startup_failure(lsan).as_deref(),
            Some(lsan.trim()),
            "the CHECK line"
        );
        let asan = "==77==ERROR: AddressSanitizer failed to allocate 0x10000 (65536) bytes\n";
        assert_eq!(
            startup_failure(asan).as_deref(),
            Some("ERROR: AddressSanitizer failed to allocate 0x10000 (65536) bytes")
        );
        let report = "\n=================================================================\n\
                      ==12==ERROR: LeakSanitizer: detected memory leaks\n\n\
                      Direct leak of 64 byte(s) in 1 object(s) allocated from:\n\
                      #0 0x55 in malloc\n\n\
                      SUMMARY: LeakSanitizer: 64 byte(s) leaked in 1 allocation(s).\n";
        assert_eq!(startup_failure(report), None);
        assert_eq!(startup_failure("leaklab: allocation failed: size=8"), None);
    }

    #[test]
    fn an_uncounted_sanitizer_build_points_at_the_lsan_detector() {
        let m = uncounted_message(Some("leak"));
        assert!(
            m.contains("sanitizer build (leak)") && m.contains("--detector lsan"),
            "{m}"
        );
        assert!(!uncounted_message(None).contains("sanitizer"));
    }
}

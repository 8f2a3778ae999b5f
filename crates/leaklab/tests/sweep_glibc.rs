//! A fault sweep of a library nobody here wrote: glibc's POSIX regex
//! (`regcomp`, `regexec`, `regfree`), as the `libc` crate binds it. Every
//! C allocation of one compile-match-free call is failed in turn, each
//! first in a child process of its own.
//!
//! What it finds on glibc 2.36 (Debian 12): no crash, no exit (glibc
//! checks every NULL it gets) in 277 points, and 55 points at which
//! `regcomp` returns REG_ESPACE having lost blocks it allocated before
//! the failure: `calc_eclosure_iter` returns early without freeing its
//! `eclosure` set, `create_initial_state` and `parse_bracket_exp` lose
//! theirs. The assertions below hold on any glibc, fixed or not: nothing
//! crashes, and every lost block is allocated inside glibc's regex code
//! (the sweep's attribution, not this test's own allocations).

use leaklab::check::{self, Frame};

#[global_allocator]
static ALLOC: leaklab::Counting = leaklab::Counting::system();

/// Compiles an extended regex, matches one string, frees it: the calls a
/// binding of POSIX regex makes.
#[inline(never)]
fn compile_match_free() -> bool {
    // SAFETY: regcomp into a zeroed regex_t; regexec and regfree only
    // after it succeeded (POSIX leaves a failed compile's regex_t empty).
    unsafe {
        let mut re: libc::regex_t = std::mem::zeroed();
        let pattern = c"^([a-z]+)@([a-z]+)\\.(com|org)$";
        if libc::regcomp(&mut re, pattern.as_ptr(), libc::REG_EXTENDED) != 0 {
            return false;
        }
        let mut found: [libc::regmatch_t; 4] = std::mem::zeroed();
        let subject = c"someone@example.org";
        let matched = libc::regexec(&re, subject.as_ptr(), 4, found.as_mut_ptr(), 0) == 0;
        libc::regfree(&mut re);
        matched
    }
}

/// Whether a frame is glibc's regex code.
fn in_glibc_regex(frame: &Frame) -> bool {
    frame
        .file
        .as_deref()
        .is_some_and(|f| f.contains("posix/") && f.contains("reg"))
        || ["regcomp", "re_", "parse_", "calc_", "create_"]
            .iter()
            .any(|p| frame.function.contains(p))
}

#[leaklab::test]
fn glibc_regex_never_crashes_and_what_it_loses_is_its_own() {
    assert!(
        compile_match_free(),
        "the pattern matches with nothing failed"
    );
    let sweep = check::fault_sweep(|| {
        std::hint::black_box(compile_match_free());
    })
    .expect("counted");
    eprintln!("{}", sweep.to_string().lines().next().unwrap_or_default());
    assert!(sweep.points.len() > 50, "{sweep}");
    // glibc checks every allocation it makes here.
    sweep.assert_no_crashes();
    // Every lost block comes from glibc's regex code, named by its frames.
    for point in sweep.leaking() {
        assert!(!point.kept.sites.is_empty(), "{point}");
        for site in &point.kept.sites {
            assert!(site.frames.iter().any(in_glibc_regex), "{point}");
        }
    }
    // The findings, grouped by the two innermost glibc frames.
    let mut by_site: std::collections::BTreeMap<String, Vec<u64>> = Default::default();
    for point in sweep.leaking() {
        let site = point.kept.sites[0]
            .frames
            .iter()
            .filter(|f| !f.yours && f.file.is_some())
            .take(2)
            .map(Frame::to_string)
            .collect::<Vec<_>>()
            .join(" <- ");
        by_site.entry(site).or_default().push(point.nth);
    }
    for (site, points) in by_site {
        eprintln!("lost at {} points ({points:?}): {site}", points.len());
    }
}

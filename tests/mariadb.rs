//! The MariaDB scenarios (the `mariadb` feature): the connector's patterns
//! on the real MySQL C API, against a server the lab starts itself.
//!
//! Run with `cargo test --features mariadb --test mariadb` (needs
//! `apt-get install mariadb-server libmariadb-dev`; `.ci/run` installs
//! them). Without the feature, this file checks the one-line refusal only.

mod common;

#[cfg(not(feature = "mariadb"))]
use common::leaklab;

/// Without the feature, asking for a MariaDB scenario is one line naming
/// the feature and the packages, exit 2.
#[cfg(not(feature = "mariadb"))]
#[test]
fn without_the_feature_a_mariadb_scenario_is_refused_in_one_line() {
    let out = leaklab(&["run", "mariadb-unfreed-result"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("--features mariadb"), "{stderr}");
    assert!(stderr.contains("mariadb-server libmariadb-dev"), "{stderr}");
}

#[cfg(feature = "mariadb")]
mod with_the_feature {
    use std::path::{Path, PathBuf};
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    use super::common::{leaklab, leaklab_json};
    use leaklab_lab::mariadb::safe::Connection;
    use leaklab_lab::mariadb::server::{self, Server};
    use leaklab_lab::scenarios::fidelity::{self, ROWS};
    use leaklab_lab::scenarios::{self, Scenario};

    fn mariadb_scenarios() -> Vec<&'static Scenario> {
        let found: Vec<_> = scenarios::all()
            .iter()
            .copied()
            .filter(|s| s.library == "mariadb")
            .collect();
        assert_eq!(found.len(), 7, "the seven patterns on the real API");
        found
    }

    #[test]
    fn every_mariadb_scenario_keeps_what_it_declares_on_the_counters() {
        for s in mariadb_scenarios() {
            let records = leaklab_json(&["run", s.id, "--iterations", "50", "--json"]);
            let records = records.as_array().expect("one record per variant");
            assert_eq!(records.len(), 2, "{}", s.id);
            for r in records {
                assert_eq!(r["matches_expected"], true, "{}: {r}", s.id);
                let verdict = if r["variant"] == "leaky" {
                    "leak"
                } else {
                    "clean"
                };
                assert_eq!(r["verdict"], verdict, "{}: {r}", s.id);
            }
        }
    }

    #[test]
    fn valgrind_agrees_on_every_mariadb_scenario() {
        if let Err(why) = leaklab_lab::detect::valgrind::available() {
            panic!("{why}");
        }
        for s in mariadb_scenarios() {
            let records = leaklab_json(&[
                "run",
                s.id,
                "--iterations",
                "5",
                "--detector",
                "valgrind",
                "--json",
            ]);
            for r in records.as_array().expect("one record per variant") {
                assert_eq!(
                    r["matches"], true,
                    "{}: {}",
                    s.id, r["detail"]["mismatches"]
                );
            }
        }
    }

    /// Each fidelity row's claim holds for both twins' declarations: the
    /// leaky one leaks on the row's side, the safe one is clean. (The two
    /// tests above check the declarations against real runs.)
    #[test]
    fn the_fidelity_rows_hold_for_both_twins() {
        let mut twins = 0;
        for row in ROWS {
            let Some(real) = row.real else { continue };
            twins += 1;
            for id in [row.stand_in, real] {
                let s = scenarios::find(id).unwrap_or_else(|| panic!("{id} is registered"));
                assert_eq!(
                    fidelity::declared_sides(s),
                    (Some(row.side), None),
                    "{id} (row of {})",
                    row.stand_in
                );
            }
        }
        assert_eq!(
            twins,
            mariadb_scenarios().len(),
            "every MariaDB scenario has its row"
        );
    }

    #[test]
    fn explain_shows_the_fidelity_row_with_both_twins_declarations() {
        let out = leaklab(&["explain", "unfreed-result"]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stand_in = text
            .lines()
            .find(|l| l.trim_start().starts_with("stand-in    unfreed-result"))
            .unwrap_or_else(|| panic!("no stand-in line in:\n{text}"));
        let real = text
            .lines()
            .find(|l| {
                l.trim_start()
                    .starts_with("libmariadb  mariadb-unfreed-result")
            })
            .unwrap_or_else(|| panic!("no libmariadb line in:\n{text}"));
        for line in [stand_in, real] {
            assert!(line.ends_with("leaky leaks on C, safe is clean"), "{line}");
        }
    }

    #[test]
    fn the_safe_binding_reads_the_stand_ins_rows_from_the_real_server() {
        let mut conn = Connection::connect(&server::socket().unwrap(), Some(server::DATABASE))
            .expect("a connection");
        let mut result = conn
            .query("SELECT name, age FROM people WHERE age > 30 ORDER BY name")
            .expect("the query");
        assert_eq!(result.field_names(), ["name", "age"]);
        let mut rows = Vec::new();
        while let Some(row) = result.fetch() {
            rows.push(format!(
                "{}:{}",
                row.get_str(0).unwrap(),
                row.get_str(1).unwrap()
            ));
        }
        assert_eq!(rows, ["alice:34", "carol:45", "eve:38"]);
        drop(result);
        assert_eq!(conn.escape("O'Brien"), "O\\'Brien");
        let e = conn.query("SELECT * FROM nope").err().expect("an error");
        assert!(e.to_string().contains("1146"), "{e}");
    }

    /// No mariadbd runs with a data directory under `dir`.
    fn no_server_under(dir: &Path) -> bool {
        let Ok(procs) = std::fs::read_dir("/proc") else {
            return true;
        };
        !procs.flatten().any(|p| {
            std::fs::read(p.path().join("cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&*dir.to_string_lossy()))
        })
    }

    fn eventually(what: &str, mut done: impl FnMut() -> bool) {
        let started = Instant::now();
        while !done() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{what}: not within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    #[test]
    fn a_dropped_server_is_stopped_and_its_directory_removed() {
        let server = Server::start().expect("a private server");
        let dir = server.dir().to_path_buf();
        assert!(server.socket().exists());
        Connection::connect(&server.socket(), Some(server::DATABASE)).expect("it answers");
        drop(server);
        assert!(!dir.exists(), "{} is left", dir.display());
        eventually("the server stops", || no_server_under(&dir));
    }

    /// Servers starting at the same moment (test binaries, parallel runs)
    /// do not clash: each keeps its temporary tables in its own directory.
    /// With a shared /tmp, 2 of 8 concurrent data-directory installs failed.
    #[test]
    fn six_servers_start_at_once() {
        let starts: Vec<_> = (0..6).map(|_| std::thread::spawn(Server::start)).collect();
        for start in starts {
            let server = start.join().unwrap().expect("a private server");
            let mut conn =
                Connection::connect(&server.socket(), Some(server::DATABASE)).expect("it answers");
            assert_eq!(conn.query("SELECT name FROM people").unwrap().num_rows(), 5);
        }
    }

    /// A lab killed mid-run (SIGKILL: no destructor runs) leaves neither
    /// the server nor its directory behind.
    #[test]
    fn a_killed_lab_leaves_no_server_behind() {
        let tmp = tempfile::tempdir().unwrap();
        let mut lab = Command::new(env!("CARGO_BIN_EXE_leaklab-lab"))
            .args(["run", "mariadb-unfreed-result", "--variant", "safe"])
            .args(["--iterations", "100000000"])
            .env("TMPDIR", tmp.path())
            .env_remove(server::SOCKET_VAR)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let server_dir = || -> Option<PathBuf> {
            std::fs::read_dir(tmp.path())
                .ok()?
                .flatten()
                .map(|e| e.path())
                .find(|p| p.join("sock").exists())
        };
        eventually("the lab's server starts", || server_dir().is_some());
        let dir = server_dir().unwrap();
        std::thread::sleep(Duration::from_millis(500));
        lab.kill().unwrap();
        lab.wait().unwrap();
        eventually("the directory is removed", || !dir.exists());
        eventually("the server stops", || no_server_under(&dir));
    }

    /// Stand-ins for the server's tools, in a directory of their own.
    fn fake_tools(install_db: &str, mariadbd: &str) -> tempfile::TempDir {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        for (name, body) in [("mariadb-install-db", install_db), ("mariadbd", mariadbd)] {
            let path = dir.path().join(name);
            std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        dir
    }

    #[test]
    fn a_server_that_cannot_start_is_reported_with_its_log_in_one_error() {
        // Writes to the --log-error file it is given, as mariadbd does,
        // then exits.
        let tools = fake_tools(
            "exit 0",
            r#"for a; do case "$a" in --log-error=*) log="${a#--log-error=}";; esac; done
printf '[ERROR] Can not open the data directory\n[ERROR] Aborting\n' > "$log""#,
        );
        let out = Command::new(env!("CARGO_BIN_EXE_leaklab-lab"))
            .args(["run", "mariadb-unfreed-result"])
            .env(server::BIN_DIR_VAR, tools.path())
            .env_remove(server::SOCKET_VAR)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("did not start"), "{stderr}");
        assert!(
            stderr.contains("Can not open the data directory"),
            "{stderr}"
        );
    }

    #[test]
    fn a_data_directory_that_cannot_be_made_is_reported_with_what_the_installer_said() {
        let tools = fake_tools(
            "echo 'ERROR: 1051  Unknown table' >&2; echo 'Installation of system tables failed!' >&2; exit 1",
            "exit 1",
        );
        let tmp = tempfile::tempdir().unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_leaklab-lab"))
            .args(["run", "mariadb-unfreed-result"])
            .env(server::BIN_DIR_VAR, tools.path())
            .env("TMPDIR", tmp.path())
            .env_remove(server::SOCKET_VAR)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("ERROR: 1051  Unknown table"), "{stderr}");
        // The keeper removed the half-made directory.
        eventually("the directory is removed", || {
            std::fs::read_dir(tmp.path()).unwrap().next().is_none()
        });
    }

    #[test]
    fn missing_server_tools_are_one_line_naming_the_packages() {
        let empty = tempfile::tempdir().unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_leaklab-lab"))
            .args(["matrix"])
            .env(server::BIN_DIR_VAR, empty.path())
            .env_remove(server::SOCKET_VAR)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains("apt-get install mariadb-server libmariadb-dev"),
            "{stderr}"
        );
    }
}

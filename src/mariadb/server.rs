//! A private MariaDB server for one run: a fresh data directory in a temp
//! directory, a `mariadbd` listening on a socket there and nowhere else
//! (`--skip-networking`: no port), the `shop.people` table with the
//! stand-in's rows, and everything removed afterwards.
//!
//! Clean-up is one mechanism for every ending. The server runs under a small
//! `sh` keeper that reads its stdin, a pipe whose write end only this
//! process holds. When the [`Server`] drops, or this process ends in any
//! way (a failed test, Ctrl-C, a kill), the pipe closes; the keeper then
//! stops the server and removes the directory. The keeper has its own
//! process group, so a terminal's Ctrl-C reaches the lab, not the keeper.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::safe::Connection;

/// The environment variable that hands a parent's server to its children
/// (set by src/run/isolate.rs on every child it starts).
pub const SOCKET_VAR: &str = "LEAKLAB_MARIADB_SOCKET";

use crate::scenarios::fidelity::MARIADB_PACKAGES as PACKAGES;

/// The database and table the scenarios query: the stand-in's `people`
/// (csrc/connector/table.c), the same five rows.
pub const DATABASE: &str = "shop";
const SCHEMA: &[&str] = &[
    "CREATE DATABASE shop",
    "CREATE TABLE shop.people (name VARCHAR(32) NOT NULL, age INT NOT NULL, score DOUBLE NOT NULL)",
    "INSERT INTO shop.people VALUES ('alice', 34, 81.50), ('bob', 27, 64.25), \
     ('carol', 45, 92.75), ('dave', 19, 55.00), ('eve', 38, 73.10)",
];

/// How long the server may take to open its socket.
const START_LIMIT: Duration = Duration::from_secs(30);

/// The keeper: make the data directory, start the server, wait for the
/// lab's pipe to close, stop the server, remove the directory. `$1` is the
/// temp directory, `$2` mariadbd, `$3` mariadb-install-db. Everything after
/// the directory's creation happens under it, so no ending of the lab can
/// leave a data directory or a server behind.
///
/// Both tools write temporary tables to `$TMPDIR`: it is set to the run's
/// own directory, so that nothing outside it is touched and two servers
/// starting at once cannot clash over a temporary table's name (with a
/// shared /tmp, 2 of 8 concurrent installs failed here).
const KEEPER: &str = r#"trap '' INT
mkdir "$1/tmp" && export TMPDIR="$1/tmp"
if "$3" --no-defaults --user=root --skip-test-db --datadir="$1/data" \
    </dev/null >"$1/install.log" 2>&1; then
  "$2" --no-defaults --datadir="$1/data" --socket="$1/sock" --skip-networking \
    --user=root --log-error="$1/error.log" --pid-file="$1/pid" --tmpdir="$1/tmp" \
    --innodb-buffer-pool-size=16M --skip-log-bin </dev/null >/dev/null 2>&1 &
  server=$!
else
  : >"$1/install-failed"
fi
cat >/dev/null
if [ -n "${server:-}" ]; then kill "$server" 2>/dev/null; wait "$server"; fi
rm -rf "$1""#;

/// A running server. Dropping it stops the server and removes its
/// directory (the keeper does both once the pipe closes).
///
/// ```no_run
/// let server = leaklab_lab::mariadb::server::Server::start()?;
/// println!("listening on {}", server.socket().display());
/// # Ok::<(), String>(())
/// ```
pub struct Server {
    dir: PathBuf,
    keeper: Child,
}

impl Server {
    /// Makes a data directory, starts `mariadbd` on a socket beside it (both
    /// by the keeper) and creates the `shop.people` table. The error is one paragraph: the
    /// packages to install, or the server's last log lines.
    pub fn start() -> Result<Server, String> {
        let [install_db, mariadbd] = ["mariadb-install-db", "mariadbd"].map(find_tool);
        let (Some(install_db), Some(mariadbd)) = (install_db, mariadbd) else {
            return Err(format!(
                "the MariaDB scenarios start a private MariaDB server, and mariadbd or \
                 mariadb-install-db is not installed: apt-get install {PACKAGES}"
            ));
        };
        // Kept: the keeper removes it, even after this process is gone.
        let dir = tempfile::Builder::new()
            .prefix("leaklab-mariadb-")
            .tempdir()
            .map_err(|e| format!("cannot create the server's temp directory: {e}"))?
            .keep();
        let keeper = Command::new("sh")
            .arg("-c")
            .arg(KEEPER)
            .arg("sh")
            .arg(&dir)
            .arg(mariadbd)
            .arg(install_db)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn();
        let keeper = match keeper {
            Ok(keeper) => keeper,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(format!("cannot start the server's keeper (sh): {e}"));
            }
        };
        let server = Server { dir, keeper };
        server.wait_ready()?;
        server.create_schema()?;
        Ok(server)
    }

    /// The socket clients connect to.
    pub fn socket(&self) -> PathBuf {
        self.dir.join("sock")
    }

    /// The server's directory (data, socket, error log).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn wait_ready(&self) -> Result<(), String> {
        let started = Instant::now();
        loop {
            if self.socket().exists() && Connection::connect(&self.socket(), None).is_ok() {
                return Ok(());
            }
            if self.dir.join("install-failed").exists() {
                return Err(format!(
                    "mariadb-install-db could not make the private server's data directory; \
                     it said:\n{}",
                    errors_or_tail(&self.read("install.log"))
                ));
            }
            // A server that gave up says so in its log ("[ERROR] Aborting").
            let log = self.read("error.log");
            if started.elapsed() > START_LIMIT || log.contains("Aborting") {
                return Err(format!(
                    "the private MariaDB server did not start within {} s; its error log \
                     ends:\n{}",
                    started.elapsed().as_secs(),
                    last_lines(&log, 8)
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn create_schema(&self) -> Result<(), String> {
        let mut conn = Connection::connect(&self.socket(), None)
            .map_err(|e| format!("connecting to the private server: {e}"))?;
        for sql in SCHEMA {
            conn.execute(sql)
                .map_err(|e| format!("setting up the private server ({sql}): {e}"))?;
        }
        Ok(())
    }

    /// A log of the keeper's, or "" if it has none yet.
    fn read(&self, log: &str) -> String {
        let mut text = String::new();
        if let Ok(mut f) = std::fs::File::open(self.dir.join(log)) {
            let _ = f.read_to_string(&mut text);
        }
        text
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Closing the pipe is the keeper's signal; then wait for it to stop
        // the server and remove the directory.
        drop(self.keeper.stdin.take());
        let _ = self.keeper.wait();
    }
}

/// The socket of the server this process's scenarios use: the parent's
/// (`LEAKLAB_MARIADB_SOCKET`), else one started here for the whole
/// process, the first time it is asked for.
///
/// ```no_run
/// let socket = leaklab_lab::mariadb::server::socket()?;
/// assert!(socket.exists());
/// # Ok::<(), String>(())
/// ```
pub fn socket() -> Result<PathBuf, String> {
    match std::env::var_os(SOCKET_VAR) {
        Some(path) if !path.is_empty() => Ok(PathBuf::from(path)),
        _ => shared().map(Server::socket),
    }
}

/// The server started by this process, if any: its children are given its
/// socket.
pub fn started_here() -> Option<PathBuf> {
    SHARED.get()?.as_ref().ok().map(Server::socket)
}

static SHARED: OnceLock<Result<Server, String>> = OnceLock::new();

/// The process-wide server, started once. Never dropped: when the process
/// ends, its keeper cleans up.
fn shared() -> Result<&'static Server, String> {
    SHARED
        .get_or_init(Server::start)
        .as_ref()
        .map_err(Clone::clone)
}

/// The environment variable naming the one directory to take `mariadbd`
/// and `mariadb-install-db` from (a server installed elsewhere).
pub const BIN_DIR_VAR: &str = "LEAKLAB_MARIADB_BIN_DIR";

/// `tool` in `LEAKLAB_MARIADB_BIN_DIR` if that is set; else on PATH, or in
/// /usr/sbin (where Debian puts mariadbd, and which a non-root PATH lacks).
fn find_tool(tool: &str) -> Option<PathBuf> {
    let dirs: Vec<PathBuf> = match std::env::var_os(BIN_DIR_VAR) {
        Some(dir) if !dir.is_empty() => vec![PathBuf::from(dir)],
        _ => {
            let path = std::env::var_os("PATH").unwrap_or_default();
            std::env::split_paths(&path)
                .chain([PathBuf::from("/usr/sbin")])
                .collect()
        }
    };
    dirs.into_iter()
        .map(|dir| dir.join(tool))
        .find(|candidate| candidate.is_file())
}

/// The installer's ERROR lines (it ends its output with advice, not the
/// cause), or its last lines if it printed none.
fn errors_or_tail(text: &str) -> String {
    let errors: Vec<&str> = text.lines().filter(|l| l.contains("ERROR")).collect();
    if errors.is_empty() {
        last_lines(text, 8)
    } else {
        errors.join("\n")
    }
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

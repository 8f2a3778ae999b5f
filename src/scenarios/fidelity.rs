//! How faithful the stand-in (csrc/connector) is to the API it stands in
//! for, the MySQL C client API as MariaDB Connector/C implements it: one row
//! per connector scenario, naming its twin on the real API (behind the
//! `mariadb` feature) or saying why it has none.
//!
//! The rows' claims are checked, not trusted: with the feature on,
//! `explain` reads each side from both scenarios' declared expectations,
//! and tests/mariadb.rs runs both twins and compares what they keep.

use super::{Scenario, Variant};
use crate::heap::Side;

/// The Debian packages the MariaDB scenarios need (a client library to
/// build against, a server to run).
pub const MARIADB_PACKAGES: &str = "mariadb-server libmariadb-dev";

/// One connector scenario against the real API.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    /// The stand-in scenario's id.
    pub stand_in: &'static str,
    /// Its twin on libmariadb, if the real API has the pattern.
    pub real: Option<&'static str>,
    /// The side both leak on, as the table claims it.
    pub side: Side,
    /// Where the two differ, and why; or why there is no twin.
    pub differs: &'static str,
}

/// Every connector scenario, in the registry's order.
pub const ROWS: &[Row] = &[
    Row {
        stand_in: "unfreed-result",
        real: Some("mariadb-unfreed-result"),
        side: Side::C,
        differs: "the size: the stand-in's LC_RES has a block per row, sized by the data; \
                  libmariadb copies rows and field descriptions into memory-root blocks \
                  of 8 KiB, so a small result keeps 4 blocks of about 16 KiB whatever its \
                  rows (only its per-column lengths array grows with the columns)",
    },
    Row {
        stand_in: "failed-connect",
        real: Some("mariadb-failed-connect"),
        side: Side::C,
        differs: "the size only: libmariadb's handle is its MYSQL plus the options and \
                  extension mysql_init and the connect attempt allocate",
    },
    Row {
        stand_in: "prepared-statement",
        real: Some("mariadb-stmt-metadata"),
        side: Side::C,
        differs: "the size: the stand-in's metadata result copies the field descriptions; \
                  libmariadb's is one MYSQL_RES pointing at the statement's own fields",
    },
    Row {
        stand_in: "early-return",
        real: Some("mariadb-early-return"),
        side: Side::C,
        differs: "the size of the result, as for unfreed-result",
    },
    Row {
        stand_in: "panic-unwind",
        real: Some("mariadb-panic-unwind"),
        side: Side::C,
        differs: "the size of the result, as for unfreed-result",
    },
    Row {
        stand_in: "forget-owner",
        real: Some("mariadb-forget-owner"),
        side: Side::C,
        differs: "the size of the result, as for unfreed-result",
    },
    Row {
        stand_in: "escape-buffer",
        real: Some("mariadb-escape-buffer"),
        side: Side::Rust,
        differs: "nothing: both write into the caller's 2n+1-byte buffer and allocate none",
    },
    Row {
        stand_in: "unfreed-c-string",
        real: None,
        side: Side::C,
        differs: "a rule of the stand-in only: lc_stat returns a malloc'd copy the caller \
                  frees, while mysql_stat returns the handle's own buffer (never freed by \
                  the caller). The stand-in keeps it for the shape real C APIs do have \
                  (sqlite3_expanded_sql, rusqlite #552)",
    },
    Row {
        stand_in: "cstring-into-raw",
        real: None,
        side: Side::Rust,
        differs: "no C rule involved: the Rust side turns the query text into a raw \
                  pointer and never takes it back, over any API that only reads its input \
                  (mysql_real_query does)",
    },
    Row {
        stand_in: "callback-box",
        real: None,
        side: Side::Rust,
        differs: "a rule of the stand-in only: the MySQL C API has no per-row callback \
                  (its nearest, mysql_set_local_infile_handler, takes user data the same \
                  way)",
    },
    Row {
        stand_in: "ffi-cycle",
        real: None,
        side: Side::C,
        differs: "leaks on both sides (the C handle, the Rust session) through the \
                  stand-in's row callback, which the real API lacks (see callback-box)",
    },
    Row {
        stand_in: "c-extension-bug",
        real: None,
        side: Side::C,
        differs: "the leak was in mysql-connector-python's own C extension (its float \
                  conversion), not in the client library: the stand-in's C plays that \
                  extension, which no libmariadb scenario can",
    },
];

/// The row of the scenario `id`, stand-in or real.
pub fn row_of(id: &str) -> Option<&'static Row> {
    ROWS.iter().find(|r| r.stand_in == id || r.real == Some(id))
}

/// The sides `s` declares it leaks on, leaky then safe (`None`: clean).
pub fn declared_sides(s: &Scenario) -> (Option<Side>, Option<Side>) {
    let side = |variant: Variant| {
        let expected = (s.expected)(variant, s.default_backend(variant));
        match (expected.c.is_leak(), expected.rust.is_leak()) {
            (true, _) => Some(Side::C),
            (false, true) => Some(Side::Rust),
            (false, false) => None,
        }
    };
    (side(Variant::Leaky), side(Variant::Safe))
}

/// The fidelity row as `explain` shows it: the claim, and, for each twin in
/// this build, the sides its expectations declare.
pub fn render(row: &Row) -> String {
    let describe = |id: &str| match super::find(id) {
        Some(s) => match declared_sides(s) {
            (Some(leaky), None) => format!("leaky leaks on {leaky}, safe is clean"),
            (leaky, safe) => format!("leaky {leaky:?}, safe {safe:?}: not a leak and its fix"),
        },
        None => "not in this build (--features mariadb)".to_owned(),
    };
    let mut out = format!(
        "\nFidelity to the real MySQL C API (MariaDB Connector/C), leak side {}:\n",
        row.side
    );
    out.push_str(&format!(
        "  stand-in    {:<24} {}\n",
        row.stand_in,
        describe(row.stand_in)
    ));
    match row.real {
        Some(real) => {
            out.push_str(&format!("  libmariadb  {real:<24} {}\n", describe(real)));
            out.push_str(&format!("  differs:    {}\n", row.differs));
        }
        None => out.push_str(&format!("  libmariadb  no twin: {}\n", row.differs)),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // Declarations may be footprints measured on the C counters, which
    // valgrind's malloc bypasses: under it this runs natively in a child.
    #[test]
    fn every_connector_scenario_has_one_row_and_its_side_is_the_declared_one() {
        crate::check::in_a_counted_process(
            "scenarios::fidelity::tests::every_connector_scenario_has_one_row_and_its_side_is_the_declared_one",
            every_connector_scenario_has_one_row,
        );
    }

    fn every_connector_scenario_has_one_row() {
        let connector: Vec<&str> = super::super::all()
            .iter()
            .filter(|s| s.library == "connector")
            .map(|s| s.id)
            .collect();
        for id in &connector {
            let rows = ROWS.iter().filter(|r| r.stand_in == *id).count();
            assert_eq!(rows, 1, "{id} has {rows} fidelity rows");
        }
        for row in ROWS {
            assert!(
                connector.contains(&row.stand_in),
                "{} is no connector scenario",
                row.stand_in
            );
            let s = super::super::find(row.stand_in).unwrap();
            assert_eq!(
                declared_sides(s),
                (Some(row.side), None),
                "{}",
                row.stand_in
            );
        }
    }

    #[test]
    fn the_docs_table_has_every_row_with_its_twin_and_side() {
        let readme = include_str!("../../docs/mariadb.md");
        for row in ROWS {
            let twin = row.real.map_or("none".to_owned(), |id| format!("`{id}`"));
            let start = format!("| `{}` | {twin} | {} |", row.stand_in, row.side);
            assert!(
                readme.lines().any(|l| l.starts_with(&start)),
                "docs/mariadb.md's fidelity table has no line starting {start:?}"
            );
        }
    }

    #[test]
    fn a_row_is_found_from_either_twin() {
        let row = row_of("mariadb-unfreed-result").expect("the real twin's row");
        assert_eq!(row.stand_in, "unfreed-result");
        assert!(std::ptr::eq(row, row_of("unfreed-result").unwrap()));
        assert!(row_of("rc-cycle").is_none());
    }
}

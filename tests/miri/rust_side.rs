//! Rust-only code under Miri: the pure backend and the rc-cycle scenario's
//! safe variant (Rc + Weak), whose leaky twin is in tests/miri_leaks.rs.

use leaklab_lab::connector::Backend;
use leaklab_lab::connector::pure::PureConnection;
use leaklab_lab::scenarios::{self, BackendChoice};

use super::{serial, texts};

#[test]
fn the_pure_backend_answers_like_the_connector() {
    let _serial = serial();
    let mut pure = PureConnection::connect("localhost", "lab", "lab", "shop").expect("connect");
    let outcome = pure
        .execute("SELECT name, score FROM people WHERE score > 80")
        .expect("select");
    assert_eq!(
        texts(&outcome.rows),
        [["alice", "81.50"], ["carol", "92.75"]]
    );
    assert_eq!(
        pure.execute("DELETE FROM people WHERE age <> 27")
            .expect("delete")
            .affected_rows,
        4
    );
    assert_eq!(
        pure.execute("SELECT * FROM people").map(|o| o.rows.len()),
        Ok(1)
    );
    assert_eq!(pure.stat().expect("stat"), "Queries: 3  Rows: 1");
    assert_eq!(
        pure.execute("SELECT").map(|_| ()).unwrap_err().code(),
        Some(1064)
    );
}

#[test]
fn rc_cycle_safe_variant_runs() {
    let _serial = serial();
    let scenario = scenarios::find("rc-cycle").expect("registered");
    let mut iteration = (scenario.safe)(BackendChoice::C).expect("setup");
    for _ in 0..2 {
        iteration().expect("iteration");
    }
}

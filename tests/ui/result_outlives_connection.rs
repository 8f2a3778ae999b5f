// A QueryResult borrows its Connection: it cannot be used after the drop.
use leaklab_lab::connector::safe::Connection;

fn main() {
    let mut conn = Connection::open_default().unwrap();
    let result = conn.query("SELECT name FROM people").unwrap().unwrap();
    drop(conn);
    println!("{}", result.num_rows());
}

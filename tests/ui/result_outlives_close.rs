// A QueryResult borrows its Connection: close(self) cannot run while it lives.
use leaklab_lab::connector::safe::Connection;

fn main() {
    let mut conn = Connection::open_default().unwrap();
    let result = conn.query("SELECT name FROM people").unwrap().unwrap();
    let _ = conn.close();
    println!("{}", result.num_rows());
}

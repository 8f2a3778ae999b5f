// A Row borrows its QueryResult: it cannot be used after the result is dropped.
use leaklab_lab::connector::safe::Connection;

fn main() {
    let mut conn = Connection::open_default().unwrap();
    let mut result = conn.query("SELECT name FROM people").unwrap().unwrap();
    let row = result.fetch().unwrap();
    drop(result);
    println!("{:?}", row.get_bytes(0));
}

// A Row is valid until the next fetch: the borrow of the result forbids it.
use leaklab_lab::connector::safe::Connection;

fn main() {
    let mut conn = Connection::open_default().unwrap();
    let mut result = conn.query("SELECT name FROM people").unwrap().unwrap();
    let first = result.fetch().unwrap();
    let second = result.fetch().unwrap();
    println!("{:?} {:?}", first.get_bytes(0), second.get_bytes(0));
}

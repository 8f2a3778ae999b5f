// close(self) consumes the Statement: it cannot be used afterwards.
use leaklab_lab::connector::safe::Connection;

fn main() {
    let mut conn = Connection::open_default().unwrap();
    let mut stmt = conn.prepare("SELECT name FROM people WHERE age > ?").unwrap();
    stmt.close().unwrap();
    let _ = stmt.execute();
}

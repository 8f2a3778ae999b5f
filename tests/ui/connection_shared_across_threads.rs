// Connection is Send but not Sync: two threads cannot share one by reference.
use leaklab_lab::connector::safe::Connection;

fn main() {
    let conn = Connection::open_default().unwrap();
    std::thread::scope(|s| {
        s.spawn(|| conn.affected_rows());
        s.spawn(|| conn.affected_rows());
    });
}

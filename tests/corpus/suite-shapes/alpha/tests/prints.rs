//! A `harness = false` target that prints (not libtest's listing) and
//! frees everything: clean.

fn main() {
    let lines: Vec<String> = (0..3).map(|i| format!("prints: line {i}")).collect();
    for l in &lines {
        println!("{l}");
    }
}

//! Keeping a point's error or panic message without counting it as a leak:
//! the text is copied into a buffer allocated before the point's "before"
//! snapshot, so the workload's own string can be dropped before "after".

use std::any::Any;

/// Most bytes of a message a point keeps.
pub(super) const MESSAGE_CAP: usize = 240;

/// An empty buffer that holds up to [`MESSAGE_CAP`] bytes without growing.
pub(super) fn buffer() -> String {
    String::with_capacity(MESSAGE_CAP)
}

/// Copies as much of `text` as fits into `buffer`, cut at a char boundary,
/// without reallocating it.
pub(super) fn keep(buffer: &mut String, text: &str) {
    let room = buffer.capacity() - buffer.len();
    let mut end = text.len().min(room);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    buffer.push_str(&text[..end]);
}

/// The text of a panic payload (`&str` or `String`, as `panic!` makes them).
pub(super) fn panic_text(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "non-string panic payload"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_never_grows_the_buffer() {
        let mut b = buffer();
        let capacity = b.capacity();
        keep(&mut b, &"é".repeat(MESSAGE_CAP));
        assert_eq!(b.capacity(), capacity);
        assert!(b.len() <= MESSAGE_CAP && b.len() >= MESSAGE_CAP - 1);
        assert!(b.chars().all(|c| c == 'é'));
    }
}

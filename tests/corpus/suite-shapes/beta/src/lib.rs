//! Member `beta`: a clean test with the name of alpha's leaking one.

#[cfg(test)]
// A heap block is what these tests are about, not an array on the stack.
#[allow(clippy::useless_vec)]
mod tests {
    /// The same name as alpha's leaking test: this one frees all it takes.
    #[test]
    fn same_name() {
        let v = vec![1u8; 24];
        assert_eq!(v.len(), 24);
    }
}

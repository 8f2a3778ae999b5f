//! The leaky binding of each C library, by library name, so `explain` can
//! show the binding method a leaky workload calls next to the workload.
//! A new C library adds its leaky module here, beside its scenarios.

/// (library, path, source) of each leaky binding.
pub const LEAKY_BINDINGS: &[(&str, &str, &str)] = &[
    (
        "connector",
        "src/connector/leaky.rs",
        include_str!("../connector/leaky.rs"),
    ),
    (
        "sqlite",
        "src/sqlite/leaky.rs",
        include_str!("../sqlite/leaky.rs"),
    ),
];

/// The leaky binding of `library`, if it has one.
pub fn leaky_binding(library: &str) -> Option<(&'static str, &'static str)> {
    LEAKY_BINDINGS
        .iter()
        .find(|(name, _, _)| *name == library)
        .map(|(_, path, source)| (*path, *source))
}

//! Running a scenario: the measurement protocol inside a child process
//! ([`measure`], [`child`]), and the parent side that starts the child
//! under a memory cap and a time limit and reads what it wrote ([`isolate`]).

pub mod child;
pub mod isolate;
pub mod measure;
pub mod rss;
pub mod sanitizer;

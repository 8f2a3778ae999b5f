//! What the detectors print, read into records: memcheck's XML, the
//! LeakSanitizer report, and which side of the boundary a stack's block
//! was allocated on.

pub mod attribution;
pub mod call_site;
pub mod lsan;
pub mod valgrind_xml;

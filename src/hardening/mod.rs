//! Hardening checks that go beyond measuring a scenario's declared leak:
//! [`faults`] fails every C allocation of a workload in turn and checks
//! that each error path still releases everything.

pub mod faults;

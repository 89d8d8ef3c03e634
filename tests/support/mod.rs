//! Test support shared by the integration tests: a fake Cabourotte, a fake vtysh, and the real FRR lab.

pub mod cabourotte;
pub mod lab;

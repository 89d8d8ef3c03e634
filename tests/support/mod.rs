//! Test support shared by the integration tests: a fake Cabourotte, a fake vtysh, the real FRR lab, the Debian
//! package and the booted Debian node it is installed on.

pub mod addresses;
pub mod anycastd;
#[macro_use]
pub mod bird;
pub mod cabourotte;
pub mod debian;
pub mod env;
pub mod http;
#[macro_use]
pub mod lab;
pub mod node;
pub mod peer;
pub mod pki;
pub mod running_config;
pub mod wait;

/// Asserts an insta snapshot stored in the top-level `snapshots/` folder.
macro_rules! snapshot {
    ($name:expr, $value:expr) => {
        insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!($name, $value);
        })
    };
}

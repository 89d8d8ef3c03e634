//! The integration tests of anycastd: one test crate, so that the support code and the binary are built and linked
//! once, and `cargo test` runs every module below (no list of files to keep up to date elsewhere).
//!
//! The tests that need root and the lab (a real FRR and GoBGP in network namespaces, the Debian package, booted
//! systemd-nspawn nodes) or root alone are `#[ignore]`d with the reason: a contributor's plain `cargo test` runs the
//! rest and lists them as ignored; `scripts/test` runs them all, as root, with `--include-ignored` by groups.

#[macro_use]
mod support;

mod cabourotte_tls;
mod errors_and_help;
mod examples;
mod exec_checks;
mod health_semantics;
mod hostile_input;
mod in_vm;
mod listener;
mod offline_plans;
mod package;
mod plan_output;
mod production;
mod properties;
mod quickstart;
mod real_bird;
mod real_bird_address;
mod real_bird_record;
mod real_bird_tables;
mod real_frr;
mod real_frr_address;
mod real_frr_edges;
mod real_frr_exec;
mod real_frr_graded;
mod real_frr_ownership;
mod real_frr_run;
mod real_frr_wire;
mod reconcile;
mod state_dir;
mod systemd_units;
mod units_live;
mod virtual_machine;

//! The plan: for every managed prefix, what FRR has, what it should have, and what to do about it.
//!
//! Pure: configuration, health answers, FRR's running configs and the maintenance marker in, a [`Plan`] out. No
//! I/O and no clock: `plan` and `apply` compute it by the same function, so given the same inputs `apply` does what
//! `plan` printed. `apply` gathers fresh inputs and computes it again, so what it does is right for that moment.

mod address;
mod compute;
mod inputs;
mod model;
mod pass_error;
mod prefix;
#[cfg(test)]
mod testing;
mod verdict;
mod warning;

pub use address::{
    AddressAction, AddressError, AddressOutcome, AddressPlan, AddressState, HostSeen, InterfaceSeen, Unplaced,
};
pub(crate) use address::{
    added_after_withdrawals, plan_addresses, prefix_still_announced, refuse_announcements_without_address,
    still_announced_under,
};
pub use inputs::{BirdStates, Departed, FrrStates, Inputs, Intent};
pub use model::{
    Action, Advertising, Failure, Outcome, Plan, PrefixError, PrefixPlan, PrefixState, ServicePlan, Summary,
};
pub use pass_error::{HoldProblem, PassError};
pub use verdict::{Desired, MaintenanceMode, Verdict, decide};
pub use warning::Warning;

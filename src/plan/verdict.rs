//! A service's verdict: its health, counted by rise and fall, or what maintenance asks; and what the verdict
//! wants for its prefixes.

use crate::config::{OnCheckerError, OnFalling, OnUnhealthy, Policy};
use crate::health::Condition;
use crate::state::streaks::Streak;

/// Why a service's prefixes should be announced, withdrawn, or left alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Healthy (for `rise` passes, or already announced): announce.
    Healthy,
    /// Unhealthy (for `fall` passes, or already withdrawn): withdraw.
    Unhealthy,
    /// Healthy, but not yet for `rise` consecutive passes: stays withdrawn.
    Rising {
        /// Consecutive healthy passes, this one included.
        healthy: u32,
        /// Passes needed.
        rise: u32,
    },
    /// Unhealthy, but not yet for `fall` consecutive passes: stays announced.
    Falling {
        /// Consecutive unhealthy passes, this one included.
        unhealthy: u32,
        /// Passes needed.
        fall: u32,
    },
    /// Cabourotte could not be asked and `on_checker_error = "keep"`: the prefixes stay as they are.
    KeptOnCheckerError,
    /// The maintenance marker is set: withdraw.
    Maintenance,
    /// The maintenance marker asks for a drain that is not over (`withdraw-all --drain`): drain until `until`
    /// (Unix seconds), then withdraw.
    Draining {
        /// The drain's deadline.
        until: u64,
    },
    /// `withdraw-all` or shutdown: withdraw.
    WithdrawAll,
    /// No longer in the configuration: whatever anycastd announced of it is withdrawn.
    Removed,
    /// A pass made by a push about other services' checks: left exactly as it is until the next poll.
    Untouched,
}

impl Verdict {
    /// What the verdict wants for the service's prefixes, under the service's `policy`.
    pub fn desired(&self, policy: &Policy) -> Desired {
        match self {
            Verdict::Healthy => Desired::Announced,
            Verdict::Falling { .. } if policy.on_falling == OnFalling::Drain => Desired::Drained,
            Verdict::Falling { .. } => Desired::Announced,
            Verdict::Unhealthy if policy.on_unhealthy == OnUnhealthy::Drain => Desired::Drained,
            Verdict::Draining { .. } => Desired::Drained,
            Verdict::KeptOnCheckerError | Verdict::Untouched => Desired::Unchanged,
            Verdict::Unhealthy
            | Verdict::Rising { .. }
            | Verdict::Maintenance
            | Verdict::WithdrawAll
            | Verdict::Removed => Desired::Withdrawn,
        }
    }
}

/// What the maintenance marker asks of a pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaintenanceMode {
    /// No marker: health decides.
    Off,
    /// Every managed prefix withdrawn.
    Withdraw,
    /// Announced prefixes drained until the deadline (Unix seconds).
    Drain {
        /// The drain's deadline.
        until: u64,
    },
}

/// What a service's verdict wants for its prefixes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Desired {
    /// Every prefix announced, through its `route_map` if it has one.
    Announced,
    /// Every announced prefix kept, through its `drain_route_map`, so that peers prefer other nodes; prefixes without
    /// one withdrawn. Never announces a prefix FRR does not have.
    Drained,
    /// Every prefix withdrawn.
    Withdrawn,
    /// Left as they are in FRR (`on_checker_error = "keep"`).
    Unchanged,
}

/// Decides a service's verdict and its streak after this pass. `condition` is `None` when health was not asked
/// (`withdraw-all`, with or without `--drain`).
pub fn decide(
    policy: Policy,
    condition: Option<Condition>,
    announced_now: bool,
    previous: Streak,
    maintenance: MaintenanceMode,
) -> (Verdict, Streak) {
    let Some(condition) = condition else {
        let verdict = match maintenance {
            MaintenanceMode::Drain { until } => Verdict::Draining { until },
            MaintenanceMode::Off | MaintenanceMode::Withdraw => Verdict::WithdrawAll,
        };
        return (verdict, previous);
    };
    let keep_on_checker_error = policy.on_checker_error == OnCheckerError::Keep;
    let streak = match condition {
        Condition::Healthy => previous.after(true).capped(policy.rise, policy.fall),
        Condition::CheckerUnavailable if keep_on_checker_error => previous,
        Condition::Unhealthy | Condition::CheckerUnavailable => previous.after(false).capped(policy.rise, policy.fall),
    };
    let verdict = match maintenance {
        MaintenanceMode::Drain { until } => drain_verdict(policy, condition, until),
        MaintenanceMode::Withdraw => Verdict::Maintenance,
        MaintenanceMode::Off => health_verdict(policy, condition, announced_now, streak),
    };
    (verdict, streak)
}

/// The verdict during a drain (`withdraw-all --drain`): a drain moves traffic gently away from a node that still
/// serves it, so only a healthy service stays drained until the deadline. A failing one is unhealthy at once, `fall`
/// notwithstanding (its prefixes are on their way out; no traffic should reach a failing service meanwhile), and
/// follows `on_unhealthy` (withdrawn, or drained with `on_unhealthy = "drain"`). A Cabourotte that cannot be asked
/// keeps the drain only with `on_checker_error = "keep"`.
fn drain_verdict(policy: Policy, condition: Condition, until: u64) -> Verdict {
    match condition {
        Condition::Healthy => Verdict::Draining { until },
        Condition::CheckerUnavailable if policy.on_checker_error == OnCheckerError::Keep => Verdict::Draining { until },
        Condition::Unhealthy | Condition::CheckerUnavailable => Verdict::Unhealthy,
    }
}

/// The verdict of health alone, out of maintenance: rise and fall applied to this pass's streak.
fn health_verdict(policy: Policy, condition: Condition, announced_now: bool, streak: Streak) -> Verdict {
    match condition {
        Condition::CheckerUnavailable if policy.on_checker_error == OnCheckerError::Keep => Verdict::KeptOnCheckerError,
        Condition::Healthy if announced_now || streak.healthy >= policy.rise => Verdict::Healthy,
        Condition::Healthy => Verdict::Rising { healthy: streak.healthy, rise: policy.rise },
        _ if !announced_now || streak.unhealthy >= policy.fall => Verdict::Unhealthy,
        _ => Verdict::Falling { unhealthy: streak.unhealthy, fall: policy.fall },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RISE_2_FALL_3: Policy = Policy {
        rise: 2,
        fall: 3,
        on_checker_error: OnCheckerError::Withdraw,
        on_falling: OnFalling::Keep,
        on_unhealthy: OnUnhealthy::Withdraw,
    };

    #[test]
    fn an_announced_service_is_withdrawn_only_after_fall_unhealthy_passes() {
        let mut streak = Streak::default();
        let mut verdicts = Vec::new();
        for _ in 0..3 {
            let (verdict, next) = decide(RISE_2_FALL_3, Some(Condition::Unhealthy), true, streak, MaintenanceMode::Off);
            verdicts.push(verdict);
            streak = next;
        }
        assert_eq!(
            verdicts,
            [
                Verdict::Falling { unhealthy: 1, fall: 3 },
                Verdict::Falling { unhealthy: 2, fall: 3 },
                Verdict::Unhealthy
            ]
        );
        assert_eq!(verdicts[0].desired(&Policy::default()), Desired::Announced, "still announced while falling");
    }

    #[test]
    fn a_withdrawn_service_is_announced_only_after_rise_healthy_passes() {
        let (first, streak) =
            decide(RISE_2_FALL_3, Some(Condition::Healthy), false, Streak::default(), MaintenanceMode::Off);
        assert_eq!(first, Verdict::Rising { healthy: 1, rise: 2 });
        assert_eq!(first.desired(&Policy::default()), Desired::Withdrawn);
        let (second, _) = decide(RISE_2_FALL_3, Some(Condition::Healthy), false, streak, MaintenanceMode::Off);
        assert_eq!(second, Verdict::Healthy);
        let (already, _) =
            decide(RISE_2_FALL_3, Some(Condition::Healthy), true, Streak::default(), MaintenanceMode::Off);
        assert_eq!(already, Verdict::Healthy, "an announced healthy service stays announced");
    }

    #[test]
    fn one_healthy_pass_resets_the_fall_count() {
        let (_, streak) =
            decide(RISE_2_FALL_3, Some(Condition::Unhealthy), true, Streak::default(), MaintenanceMode::Off);
        let (_, streak) = decide(RISE_2_FALL_3, Some(Condition::Healthy), true, streak, MaintenanceMode::Off);
        let (verdict, _) = decide(RISE_2_FALL_3, Some(Condition::Unhealthy), true, streak, MaintenanceMode::Off);
        assert_eq!(verdict, Verdict::Falling { unhealthy: 1, fall: 3 });
    }

    #[test]
    fn keep_on_checker_error_leaves_prefixes_and_counts_alone() {
        let keep = Policy { on_checker_error: OnCheckerError::Keep, ..RISE_2_FALL_3 };
        let before = Streak { healthy: 0, unhealthy: 2 };
        let (verdict, after) = decide(keep, Some(Condition::CheckerUnavailable), true, before, MaintenanceMode::Off);
        assert_eq!((verdict.clone(), after), (Verdict::KeptOnCheckerError, before));
        assert_eq!(verdict.desired(&Policy::default()), Desired::Unchanged);
        let (withdraw, _) =
            decide(Policy::default(), Some(Condition::CheckerUnavailable), true, before, MaintenanceMode::Off);
        assert_eq!(withdraw, Verdict::Unhealthy, "the default withdraws, as the original did");
    }
}

//! A ticket's deadlines and the timers they set: when each is due, when it
//! counts as met, and what is still to fire (warnings, breaches, the
//! auto-close of a resolved ticket). The ticket applies what fires
//! ([`crate::Ticket::fire_timers`]); this module only decides.
//!
//! A deadline is met when its metric was fulfilled at or before it: the
//! first response by the first public staff comment or the resolve (see
//! [`crate::Ticket::resolve`]), or by the ticket being closed; the
//! resolution by the ticket being resolved or closed. A fulfilled metric's
//! due time no longer moves. A reopen takes back the resolve, so the
//! resolution's clock runs again; the first response stays as it was. A fulfilment after the deadline is no fulfilment: the breach
//! fires even if the fulfilment was committed first, so a deadline is
//! either met or breached, never both.

use chrono::{DateTime, TimeDelta, Utc};

use crate::invalid_value::InvalidValue;
use crate::priority::Priority;
use crate::sla_policy::{SlaMetric, SlaPolicy};
use crate::status::Status;

/// A set of [`SlaMetric`]s (which were warned, which breached).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct SlaMetrics(u8);

impl SlaMetrics {
    /// No metric.
    pub const NONE: Self = Self(0);

    fn bit(metric: SlaMetric) -> u8 {
        match metric {
            SlaMetric::FirstResponse => 1,
            SlaMetric::Resolution => 2,
        }
    }

    /// Whether `metric` is in the set.
    pub fn contains(self, metric: SlaMetric) -> bool {
        self.0 & Self::bit(metric) != 0
    }

    /// The set with `metric` added.
    pub fn with(self, metric: SlaMetric) -> Self {
        Self(self.0 | Self::bit(metric))
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The metrics in the set, first response first.
    pub fn iter(self) -> impl Iterator<Item = SlaMetric> {
        SlaMetric::ALL
            .into_iter()
            .filter(move |m| self.contains(*m))
    }

    /// The stored form: bit 1 first response, bit 2 resolution.
    pub fn bits(self) -> i32 {
        i32::from(self.0)
    }

    /// Reads the stored form.
    pub fn from_bits(bits: i32) -> Result<Self, InvalidValue> {
        match u8::try_from(bits) {
            Ok(b @ 0..=3) => Ok(Self(b)),
            _ => Err(InvalidValue::new("must be a set of the bits 1 and 2")),
        }
    }
}

/// A ticket's deadlines and what of them has fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlaState {
    /// When the first response is due.
    pub first_response_due_at: DateTime<Utc>,
    /// When the resolution is due.
    pub resolution_due_at: DateTime<Utc>,
    /// Metrics whose warning went out.
    pub warned: SlaMetrics,
    /// Metrics whose deadline passed unmet.
    pub breached: SlaMetrics,
    /// When the next timer is due (`None`: none is pending): what the
    /// scheduler sleeps until.
    pub next_timer_at: Option<DateTime<Utc>>,
    /// The nearest deadline not yet fulfilled (`None`: all fulfilled): what
    /// the staff list sorts by.
    pub next_due_at: Option<DateTime<Utc>>,
}

impl SlaState {
    /// The deadlines of a ticket created at `created_at` with these targets;
    /// nothing fired yet. [`plan`] sets the timers.
    pub fn due(created_at: DateTime<Utc>, targets: crate::sla_policy::SlaTargets) -> Self {
        Self {
            first_response_due_at: later(created_at, targets.first_response),
            resolution_due_at: later(created_at, targets.resolution),
            warned: SlaMetrics::NONE,
            breached: SlaMetrics::NONE,
            next_timer_at: None,
            next_due_at: None,
        }
    }

    /// When `metric` is due.
    pub fn due_at(&self, metric: SlaMetric) -> DateTime<Utc> {
        match metric {
            SlaMetric::FirstResponse => self.first_response_due_at,
            SlaMetric::Resolution => self.resolution_due_at,
        }
    }
}

/// Something that fires at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Timer {
    /// The deadline of a metric is near.
    Warning(SlaMetric),
    /// The deadline of a metric passed unmet.
    Breach(SlaMetric),
    /// A resolved ticket has waited long enough.
    AutoClose,
}

/// `at` moved by `by`, kept within the calendar chrono can represent
/// (plain `+` panics beyond it; a stored time near its end must not).
fn later(at: DateTime<Utc>, by: TimeDelta) -> DateTime<Utc> {
    at.checked_add_signed(by)
        .unwrap_or(if by < TimeDelta::zero() {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        })
}

/// What of a ticket's life the deadlines depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Progress {
    /// Current status.
    pub status: Status,
    /// Current priority (decides the targets).
    pub priority: Priority,
    /// Creation: where the targets count from.
    pub created_at: DateTime<Utc>,
    /// The first public staff comment.
    pub first_responded_at: Option<DateTime<Utc>>,
    /// While resolved.
    pub resolved_at: Option<DateTime<Utc>>,
    /// Once closed.
    pub closed_at: Option<DateTime<Utc>>,
}

/// When `metric` was fulfilled, if it was.
fn fulfilled_at(progress: &Progress, metric: SlaMetric) -> Option<DateTime<Utc>> {
    let finished = progress.resolved_at.or(progress.closed_at);
    match metric {
        SlaMetric::FirstResponse => progress.first_responded_at.or(finished),
        SlaMetric::Resolution => finished,
    }
}

/// Every timer still to fire, with its time, earliest first.
pub(crate) fn pending(
    sla: &SlaState,
    progress: &Progress,
    policy: &SlaPolicy,
) -> Vec<(DateTime<Utc>, Timer)> {
    let mut timers = Vec::new();
    for metric in SlaMetric::ALL {
        let due = sla.due_at(metric);
        let fulfilled = fulfilled_at(progress, metric);
        if sla.breached.contains(metric) || fulfilled.is_some_and(|at| at <= due) {
            continue;
        }
        timers.push((due, Timer::Breach(metric)));
        if fulfilled.is_none() && !sla.warned.contains(metric) {
            timers.push((later(due, -policy.warning_lead()), Timer::Warning(metric)));
        }
    }
    if progress.status == Status::Resolved
        && let (Some(after), Some(resolved)) = (policy.auto_close_after(), progress.resolved_at)
    {
        timers.push((later(resolved, after), Timer::AutoClose));
    }
    timers.sort();
    timers
}

/// Sets the deadlines of `sla` not yet fulfilled from `policy` and the
/// ticket's priority (counted from its creation, so a priority change moves
/// them) and the times its timers and its nearest open deadline fall on.
pub(crate) fn plan(sla: &mut SlaState, progress: &Progress, policy: &SlaPolicy) {
    // A fulfilled metric keeps the due time it was fulfilled against: a
    // later priority change must not turn a met target into a breach.
    let targets = policy.targets(progress.priority);
    if fulfilled_at(progress, SlaMetric::FirstResponse).is_none() {
        sla.first_response_due_at = later(progress.created_at, targets.first_response);
    }
    if fulfilled_at(progress, SlaMetric::Resolution).is_none() {
        sla.resolution_due_at = later(progress.created_at, targets.resolution);
    }
    sla.next_timer_at = pending(sla, progress, policy).first().map(|(at, _)| *at);
    sla.next_due_at = SlaMetric::ALL
        .into_iter()
        .filter(|m| fulfilled_at(progress, *m).is_none())
        .map(|m| sla.due_at(m))
        .min();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_at_the_end_of_the_calendar_saturate_instead_of_panicking() {
        let end = DateTime::<Utc>::MAX_UTC - TimeDelta::hours(1);
        let sla = SlaState::due(end, SlaPolicy::default().targets(Priority::Low));
        assert_eq!(sla.resolution_due_at, DateTime::<Utc>::MAX_UTC);
        assert_eq!(
            later(DateTime::<Utc>::MIN_UTC, -TimeDelta::hours(1)),
            DateTime::<Utc>::MIN_UTC
        );
        let progress = Progress {
            status: Status::Resolved,
            priority: Priority::Low,
            created_at: end,
            first_responded_at: None,
            resolved_at: Some(end),
            closed_at: None,
        };
        let mut sla = sla;
        plan(&mut sla, &progress, &SlaPolicy::default());
        assert_eq!(sla.next_timer_at, Some(DateTime::<Utc>::MAX_UTC));
    }
}

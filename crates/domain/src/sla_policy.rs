//! The service-level policy: how long support may take, per priority, to
//! answer a ticket first and to resolve it; how long before a deadline to
//! warn; how long a resolved ticket waits before the service closes it.

use chrono::TimeDelta;

use crate::invalid_value::InvalidValue;
use crate::priority::Priority;
use crate::string_enum::string_enum;

string_enum! {
    /// What a deadline measures.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub enum SlaMetric {
        /// The first public staff comment.
        FirstResponse => "first_response",
        /// The ticket resolved (or closed).
        Resolution => "resolution",
    }
}

impl SlaMetric {
    /// Parses the snake_case name.
    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        Self::from_name(value)
    }
}

/// The two targets of one priority, counted from the ticket's creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlaTargets {
    /// Time allowed until the first public staff comment.
    pub first_response: TimeDelta,
    /// Time allowed until the ticket is resolved.
    pub resolution: TimeDelta,
}

impl SlaTargets {
    /// The target of `metric`.
    pub fn of(&self, metric: SlaMetric) -> TimeDelta {
        match metric {
            SlaMetric::FirstResponse => self.first_response,
            SlaMetric::Resolution => self.resolution,
        }
    }
}

/// The policy in force. Built only from valid parts: every duration is
/// positive (the warning lead may be zero).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaPolicy {
    /// Indexed by `Priority as usize` order of [`Priority::ALL`].
    targets: [SlaTargets; 4],
    warning_lead: TimeDelta,
    auto_close_after: Option<TimeDelta>,
}

fn hours(h: i64) -> TimeDelta {
    TimeDelta::hours(h)
}

impl Default for SlaPolicy {
    /// urgent 1 h / 4 h, high 4 h / 24 h, medium 8 h / 48 h, low 24 h /
    /// 72 h; warnings 15 minutes ahead; auto-close after 96 hours.
    fn default() -> Self {
        let t = |first, resolution| SlaTargets {
            first_response: hours(first),
            resolution: hours(resolution),
        };
        Self {
            targets: [t(24, 72), t(8, 48), t(4, 24), t(1, 4)],
            warning_lead: TimeDelta::minutes(15),
            auto_close_after: Some(hours(96)),
        }
    }
}

impl SlaPolicy {
    /// The targets of `priority`.
    pub fn targets(&self, priority: Priority) -> SlaTargets {
        self.targets[index(priority)]
    }

    /// How long before a deadline its warning goes out.
    pub fn warning_lead(&self) -> TimeDelta {
        self.warning_lead
    }

    /// How long a resolved ticket stays resolved before the service closes
    /// it (`None`: never).
    pub fn auto_close_after(&self) -> Option<TimeDelta> {
        self.auto_close_after
    }

    /// The same policy with `text`'s targets (`urgent=1h/4h,high=4h/24h`):
    /// comma-separated `priority=first_response/resolution` items; a
    /// priority not named keeps its target.
    pub fn with_targets(mut self, text: &str) -> Result<Self, InvalidValue> {
        for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let bad = || {
                InvalidValue::new(format!(
                    "`{item}` is not `priority=first_response/resolution` (e.g. `urgent=1h/4h`)"
                ))
            };
            let (name, pair) = item.split_once('=').ok_or_else(bad)?;
            let priority = Priority::parse(name.trim()).map_err(|_| {
                InvalidValue::new(format!(
                    "`{}` is not a priority (low, medium, high, urgent)",
                    name.trim()
                ))
            })?;
            let (first, resolution) = pair.split_once('/').ok_or_else(bad)?;
            self.targets[index(priority)] = SlaTargets {
                first_response: positive(parse_duration(first)?)?,
                resolution: positive(parse_duration(resolution)?)?,
            };
        }
        Ok(self)
    }

    /// The same policy warning `lead` ahead of each deadline.
    pub fn with_warning_lead(mut self, lead: TimeDelta) -> Result<Self, InvalidValue> {
        if lead < TimeDelta::zero() {
            return Err(InvalidValue::new("must not be negative"));
        }
        self.warning_lead = lead;
        Ok(self)
    }

    /// The same policy closing resolved tickets after `after` (`None`: never).
    pub fn with_auto_close_after(mut self, after: Option<TimeDelta>) -> Result<Self, InvalidValue> {
        self.auto_close_after = after.map(positive).transpose()?;
        Ok(self)
    }
}

fn index(priority: Priority) -> usize {
    match priority {
        Priority::Low => 0,
        Priority::Medium => 1,
        Priority::High => 2,
        Priority::Urgent => 3,
    }
}

fn positive(d: TimeDelta) -> Result<TimeDelta, InvalidValue> {
    if d > TimeDelta::zero() {
        Ok(d)
    } else {
        Err(InvalidValue::new("a target must be longer than zero"))
    }
}

/// A whole number of seconds, minutes, hours or days: `90s`, `15m`, `4h`,
/// `3d`.
pub fn parse_duration(text: &str) -> Result<TimeDelta, InvalidValue> {
    let text = text.trim();
    let bad = || {
        InvalidValue::new(format!(
            "`{text}` is not a duration: a whole number and a unit s, m, h or d (e.g. `15m`)"
        ))
    };
    let unit = text.chars().last().ok_or_else(bad)?;
    let seconds_per = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return Err(bad()),
    };
    let amount: i64 = text[..text.len() - 1].parse().map_err(|_| bad())?;
    if amount < 0 {
        return Err(bad());
    }
    amount
        .checked_mul(seconds_per)
        .filter(|s| *s <= 100 * 365 * 86_400)
        .map(TimeDelta::seconds)
        .ok_or_else(|| InvalidValue::new(format!("`{text}` is longer than a hundred years")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones() {
        let p = SlaPolicy::default();
        let t = p.targets(Priority::Urgent);
        assert_eq!((t.first_response, t.resolution), (hours(1), hours(4)));
        let t = p.targets(Priority::Low);
        assert_eq!((t.first_response, t.resolution), (hours(24), hours(72)));
        assert_eq!(p.warning_lead(), TimeDelta::minutes(15));
        assert_eq!(p.auto_close_after(), Some(hours(96)));
    }

    #[test]
    fn targets_parse_and_keep_the_rest() {
        let p = SlaPolicy::default()
            .with_targets("urgent=2s/4s, low = 1d/3d")
            .unwrap();
        let t = p.targets(Priority::Urgent);
        assert_eq!(
            (t.first_response, t.resolution),
            (TimeDelta::seconds(2), TimeDelta::seconds(4))
        );
        assert_eq!(p.targets(Priority::Low).resolution, TimeDelta::days(3));
        assert_eq!(p.targets(Priority::High).resolution, hours(24));
    }

    #[test]
    fn bad_policies_name_what_is_wrong() {
        for bad in [
            "urgent",
            "critical=1h/2h",
            "urgent=1h",
            "urgent=1x/2h",
            "urgent=0s/2h",
            "urgent=-1h/2h",
            "urgent=h/2h",
            "urgent=99999999999d/1h",
        ] {
            let err = SlaPolicy::default().with_targets(bad).unwrap_err();
            assert!(!err.to_string().is_empty(), "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(TimeDelta::seconds(90)));
        assert_eq!(parse_duration("15m"), Ok(TimeDelta::minutes(15)));
        assert_eq!(parse_duration("0m"), Ok(TimeDelta::zero()));
        assert!(parse_duration("15").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("1.5h").is_err());
    }
}

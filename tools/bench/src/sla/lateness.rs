//! How late deadlines fired: percentiles of (moment seen − due time), and
//! per-ticket accounting of what was missed or came twice.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

/// Percentiles of a lateness sample, in milliseconds (nearest rank).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Lateness {
    /// Samples.
    pub count: usize,
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
    /// Samples before their due time (a deadline fired early: a bug).
    pub early: usize,
}

impl Lateness {
    /// Of `(due, seen)` pairs.
    pub fn of(pairs: impl IntoIterator<Item = (DateTime<Utc>, DateTime<Utc>)>) -> Self {
        let mut micros: Vec<i64> = pairs
            .into_iter()
            .map(|(due, seen)| (seen - due).num_microseconds().unwrap_or(i64::MAX))
            .collect();
        micros.sort_unstable();
        let rank = |percent: usize| {
            let rank = (micros.len() * percent).div_ceil(100).max(1);
            micros.get(rank - 1).copied().unwrap_or(0) as f64 / 1000.0
        };
        Self {
            count: micros.len(),
            p50: rank(50),
            p99: rank(99),
            max: micros.last().copied().unwrap_or(0) as f64 / 1000.0,
            early: micros.iter().filter(|&&m| m < 0).count(),
        }
    }
}

/// Missed and duplicated firings of one metric, against the tickets that
/// should each have fired exactly once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Tickets expected to fire.
    pub expected: usize,
    /// Firings seen, in all.
    pub seen: usize,
    /// Expected tickets that never fired.
    pub missed: usize,
    /// Firings beyond the first of a ticket.
    pub duplicated: usize,
    /// Firings of tickets that were not expected to fire.
    pub unexpected: usize,
}

impl Tally {
    /// Counts `fired` (one ticket id per firing) against `expected`.
    pub fn of(expected: &HashSet<i64>, fired: impl IntoIterator<Item = i64>) -> Self {
        let mut counts: HashMap<i64, usize> = HashMap::new();
        for ticket in fired {
            *counts.entry(ticket).or_default() += 1;
        }
        Self {
            expected: expected.len(),
            seen: counts.values().sum(),
            missed: expected.iter().filter(|t| !counts.contains_key(t)).count(),
            duplicated: counts.values().map(|c| c - 1).sum(),
            unexpected: counts
                .iter()
                .filter(|(t, _)| !expected.contains(t))
                .map(|(_, c)| c)
                .sum(),
        }
    }

    /// Exactly once for every expected ticket, nothing else.
    pub fn exact(&self) -> bool {
        self.missed == 0 && self.duplicated == 0 && self.unexpected == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    #[test]
    fn lateness_percentiles_in_milliseconds() {
        let due = Utc::now();
        let pairs = (1..=100).map(|ms| (due, due + TimeDelta::milliseconds(ms)));
        let l = Lateness::of(pairs.chain([(due, due - TimeDelta::milliseconds(5))]));
        assert_eq!((l.count, l.early), (101, 1));
        assert_eq!((l.p50, l.p99, l.max), (50.0, 99.0, 100.0));
        assert_eq!(Lateness::of([]), Lateness::default());
    }

    #[test]
    fn tally_counts_missed_duplicated_and_unexpected() {
        let expected: HashSet<i64> = [1, 2, 3].into();
        let t = Tally::of(&expected, [1, 1, 2, 9]);
        assert_eq!(
            t,
            Tally {
                expected: 3,
                seen: 4,
                missed: 1,
                duplicated: 1,
                unexpected: 1
            }
        );
        assert!(!t.exact());
        assert!(Tally::of(&expected, [3, 2, 1]).exact());
    }
}

//! Percentiles of timing samples.

use std::time::Duration;

/// The smallest value with at least `percent`% of the sorted sample at or
/// below it (nearest rank); zero for an empty sample.
pub fn nearest_rank(sorted: &[Duration], percent: usize) -> Duration {
    let rank = (sorted.len() * percent).div_ceil(100).max(1);
    sorted.get(rank - 1).copied().unwrap_or_default()
}

/// p50 and p99 of a sample (nearest rank); zero for an empty one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Percentiles {
    /// The median.
    pub p50: Duration,
    /// The 99th percentile.
    pub p99: Duration,
}

impl Percentiles {
    /// Sorts `sample` and takes its p50 and p99.
    pub fn of(mut sample: Vec<Duration>) -> Self {
        sample.sort_unstable();
        Self {
            p50: nearest_rank(&sample, 50),
            p99: nearest_rank(&sample, 99),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let p = Percentiles::of((1..=100).rev().map(d).collect());
        assert_eq!((p.p50, p.p99), (d(50), d(99)));
        let p = Percentiles::of(vec![d(7)]);
        assert_eq!((p.p50, p.p99), (d(7), d(7)));
        let p = Percentiles::of((1..=20).map(d).collect());
        assert_eq!((p.p50, p.p99), (d(10), d(20)));
        assert_eq!(Percentiles::of(Vec::new()).p99, Duration::ZERO);
        assert_eq!(nearest_rank(&[d(1), d(2), d(3)], 50), d(2));
    }
}

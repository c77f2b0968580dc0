//! Adapters for the domain's small ports backed by the operating system.

use chrono::{DateTime, SubsecRound, Utc};
use rand::Rng;
use support_domain::TicketNumber;
use support_domain::ports::{Clock, TicketNumberGenerator};

/// The wall clock, truncated to microseconds so what is returned equals what
/// both databases store.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
    }
}

/// Ticket numbers from the operating system's CSPRNG-seeded thread RNG, so
/// a customer cannot guess another customer's number.
#[derive(Debug, Default, Clone, Copy)]
pub struct RandomTicketNumbers;

impl TicketNumberGenerator for RandomTicketNumbers {
    fn generate(&self) -> TicketNumber {
        let mut rng = rand::rng();
        let digits = rng.random_range(0..1_000_000u32);
        let suffix: [u8; 6] = std::array::from_fn(|_| rng.random_range(0..36u8));
        TicketNumber::from_random(digits, suffix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn numbers_match_the_format_and_do_not_repeat() {
        let numbers: HashSet<String> = (0..10_000)
            .map(|_| RandomTicketNumbers.generate().to_string())
            .collect();
        assert_eq!(numbers.len(), 10_000);
        assert!(numbers.iter().all(|n| TicketNumber::parse(n).is_ok()));
    }

    #[test]
    fn clock_has_microsecond_precision() {
        assert_eq!(SystemClock.now().timestamp_subsec_nanos() % 1000, 0);
    }
}

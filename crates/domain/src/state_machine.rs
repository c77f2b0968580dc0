//! The ticket state machine: which status changes are allowed.
//!
//! ```text
//!            start_progress            resolve            close
//!   open ───────────────▶ in_progress ─────────▶ resolved ──────▶ closed
//!    │  ╲                    │   ▲                 │  ▲
//!    │   ╲ escalate          │   │ start_progress  │  │ resolve
//!    │    ▼                  ▼   │                 │  │
//!    │   escalated ◀─────────┘ ──┘ ────────────────┼──┘
//!    │                                             │ reopen
//!    └──────────── close ─────▶ closed ◀───────────┘ (back to open)
//! ```
//! Who takes which transition is the use cases' business: staff take them
//! all (`crate::staff_actions`); a customer escalates (from open or
//! in_progress) and reopens a resolved ticket by replying to it
//! (`crate::conversation`). Closed is final.

use crate::errors::TransitionError;
use crate::status::Status;

/// A requested change of status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transition {
    /// Staff picks the ticket up.
    StartProgress,
    /// The customer (or staff) asks for senior attention.
    Escalate,
    /// Support marks the problem solved.
    Resolve,
    /// The ticket is archived for good.
    Close,
    /// A resolved ticket turns out not to be solved.
    Reopen,
}

impl Transition {
    /// Every transition.
    pub const ALL: [Self; 5] = [
        Self::StartProgress,
        Self::Escalate,
        Self::Resolve,
        Self::Close,
        Self::Reopen,
    ];

    /// The status this transition leads to.
    pub fn target(self) -> Status {
        match self {
            Self::StartProgress => Status::InProgress,
            Self::Escalate => Status::Escalated,
            Self::Resolve => Status::Resolved,
            Self::Close => Status::Closed,
            Self::Reopen => Status::Open,
        }
    }

    /// Checks the transition from `from`; the error names why it is refused.
    pub fn check(self, from: Status) -> Result<Status, TransitionError> {
        use Status::*;
        let allowed = match self {
            Self::StartProgress => matches!(from, Open | Escalated),
            Self::Escalate => matches!(from, Open | InProgress),
            Self::Resolve => matches!(from, Open | InProgress | Escalated),
            Self::Close => matches!(from, Open | InProgress | Escalated | Resolved),
            Self::Reopen => matches!(from, Resolved),
        };
        if allowed {
            return Ok(self.target());
        }
        Err(match (self, from) {
            (_, Closed) => TransitionError::TicketClosed,
            (Self::Escalate, Escalated) => TransitionError::AlreadyEscalated,
            (Self::Escalate | Self::StartProgress, Resolved) => TransitionError::TicketResolved,
            (_, from) => TransitionError::NotAllowed {
                from,
                to: self.target(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Status::*;

    /// The full table: (transition, from) → allowed?
    #[test]
    fn every_transition_from_every_status() {
        let expected_allowed = [
            (Transition::StartProgress, vec![Open, Escalated]),
            (Transition::Escalate, vec![Open, InProgress]),
            (Transition::Resolve, vec![Open, InProgress, Escalated]),
            (
                Transition::Close,
                vec![Open, InProgress, Escalated, Resolved],
            ),
            (Transition::Reopen, vec![Resolved]),
        ];
        for (transition, allowed_from) in expected_allowed {
            for from in Status::ALL {
                let result = transition.check(from);
                if allowed_from.contains(&from) {
                    assert_eq!(
                        result,
                        Ok(transition.target()),
                        "{transition:?} from {from}"
                    );
                } else {
                    assert!(result.is_err(), "{transition:?} from {from} was allowed");
                }
            }
        }
    }

    #[test]
    fn escalation_refusals_name_the_reason() {
        assert_eq!(
            Transition::Escalate.check(Escalated),
            Err(TransitionError::AlreadyEscalated)
        );
        assert_eq!(
            Transition::Escalate.check(Resolved),
            Err(TransitionError::TicketResolved)
        );
        assert_eq!(
            Transition::Escalate.check(Closed),
            Err(TransitionError::TicketClosed)
        );
    }

    #[test]
    fn closed_is_final() {
        for t in Transition::ALL {
            assert_eq!(t.check(Closed), Err(TransitionError::TicketClosed));
        }
    }
}

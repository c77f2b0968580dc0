//! Paging through tickets, newest first, by keyset, and the staff filters.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Datelike, Utc};

use crate::ids::{StaffId, TicketId};
use crate::invalid_value::InvalidValue;
use crate::priority::Priority;
use crate::status::Status;
use crate::ticket::Ticket;

/// A cursor's opaque text: `prefix` and the id, base64url.
pub(crate) fn encode_cursor(prefix: &str, id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{prefix}{id}"))
}

/// The id in a cursor made by [`encode_cursor`] with `prefix`, checked by
/// `make`; anything else is refused.
pub(crate) fn decode_cursor<T>(
    prefix: &str,
    value: &str,
    make: fn(i64) -> Result<T, InvalidValue>,
) -> Result<T, InvalidValue> {
    let invalid = || InvalidValue::new("is not a cursor this service issued");
    let bytes = URL_SAFE_NO_PAD.decode(value).map_err(|_| invalid())?;
    let text = std::str::from_utf8(&bytes).map_err(|_| invalid())?;
    let id = text
        .strip_prefix(prefix)
        .and_then(|n| n.parse::<i64>().ok())
        .ok_or_else(invalid)?;
    make(id).map_err(|_| invalid())
}

/// How many tickets a page holds: 1 to 100, 20 by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimit(u32);

impl PageLimit {
    /// Page size when the client names none.
    pub const DEFAULT: Self = Self(20);
    /// Largest page.
    pub const MAX: u32 = 100;

    /// Checks the bounds.
    pub fn new(value: i64) -> Result<Self, InvalidValue> {
        match u32::try_from(value) {
            Ok(v @ 1..=Self::MAX) => Ok(Self(v)),
            _ => Err(InvalidValue::new("must be an integer from 1 to 100")),
        }
    }

    /// The size.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl Default for PageLimit {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Where the next page starts: an opaque token for clients, the last ticket id
/// seen for the store. Ids only grow, so a page never repeats or skips a ticket
/// when tickets are created while a client pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageCursor {
    after: TicketId,
}

impl PageCursor {
    const PREFIX: &'static str = "t1:";

    /// The cursor for the page after `last`.
    pub fn after(last: TicketId) -> Self {
        Self { after: last }
    }

    /// The last ticket of the previous page; the next page holds older tickets.
    pub fn last_seen(self) -> TicketId {
        self.after
    }

    /// The opaque text handed to clients.
    pub fn encode(self) -> String {
        encode_cursor(Self::PREFIX, self.after.get())
    }

    /// Reads a cursor a client sent back.
    pub fn decode(value: &str) -> Result<Self, InvalidValue> {
        decode_cursor(Self::PREFIX, value, TicketId::new).map(|after| Self { after })
    }
}

/// A request for one page of the caller's tickets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ListTickets {
    /// Only tickets in this status.
    pub status: Option<Status>,
    /// Page size.
    pub limit: PageLimit,
    /// Continue after this cursor.
    pub cursor: Option<PageCursor>,
}

/// Whose tickets a staff list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssigneeFilter {
    /// Tickets nobody is assigned to.
    Nobody,
    /// Tickets assigned to this staff member.
    Staff(StaffId),
}

/// Which tickets a staff list shows; every combination is served by an
/// index of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TicketFilter {
    /// Only tickets in this status.
    pub status: Option<Status>,
    /// Only tickets of this priority.
    pub priority: Option<Priority>,
    /// Only tickets with this assignee (or none).
    pub assignee: Option<AssigneeFilter>,
    /// Only tickets with a breached deadline (`true`) or without (`false`).
    pub breached: Option<bool>,
}

/// A request for one page of every customer's tickets (staff).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ListAllTickets {
    /// Which tickets.
    pub filter: TicketFilter,
    /// Page size.
    pub limit: PageLimit,
    /// Continue after this cursor.
    pub cursor: Option<PageCursor>,
}

/// Where the next page of a list by deadline starts: after this ticket,
/// whose nearest open deadline was `due_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueCursor {
    /// The last ticket's nearest open deadline.
    pub due_at: DateTime<Utc>,
    /// The last ticket.
    pub id: TicketId,
}

impl DueCursor {
    const PREFIX: &'static str = "d1:";

    /// The opaque text handed to clients.
    pub fn encode(self) -> String {
        URL_SAFE_NO_PAD.encode(format!(
            "{}{}:{}",
            Self::PREFIX,
            self.due_at.timestamp_micros(),
            self.id.get()
        ))
    }

    /// Reads a cursor a client sent back.
    pub fn decode(value: &str) -> Result<Self, InvalidValue> {
        let invalid = || InvalidValue::new("is not a cursor this service issued");
        let bytes = URL_SAFE_NO_PAD.decode(value).map_err(|_| invalid())?;
        let text = std::str::from_utf8(&bytes).map_err(|_| invalid())?;
        let (micros, id) = text
            .strip_prefix(Self::PREFIX)
            .and_then(|rest| rest.split_once(':'))
            .ok_or_else(invalid)?;
        // Years 1 to 9999: what every store can compare against (PostgreSQL
        // refuses times before 4713 BC); this service issues no others.
        let due_at = micros
            .parse::<i64>()
            .ok()
            .and_then(DateTime::from_timestamp_micros)
            .filter(|at| (1..=9999).contains(&at.year()))
            .ok_or_else(invalid)?;
        let id = id
            .parse::<i64>()
            .ok()
            .and_then(|id| TicketId::new(id).ok())
            .ok_or_else(invalid)?;
        Ok(Self { due_at, id })
    }
}

/// A request for one page of every customer's tickets with an open
/// deadline, nearest deadline first (staff).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ListDueTickets {
    /// Which tickets.
    pub filter: TicketFilter,
    /// Page size.
    pub limit: PageLimit,
    /// Continue after this cursor.
    pub cursor: Option<DueCursor>,
}

/// One page of tickets, newest first (or by `C`'s order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketPage<C = PageCursor> {
    /// The tickets.
    pub tickets: Vec<Ticket>,
    /// Set when more tickets follow.
    pub next_cursor: Option<C>,
}

impl TicketPage<DueCursor> {
    /// The page of `limit` from up to `limit + 1` tickets read by deadline.
    pub(crate) fn by_due(mut tickets: Vec<Ticket>, limit: u32) -> Self {
        let next_cursor = keep_page(&mut tickets, limit, |t| {
            t.sla()
                .next_due_at
                .map(|due_at| DueCursor { due_at, id: t.id() })
        })
        .flatten();
        Self {
            tickets,
            next_cursor,
        }
    }
}

impl TicketPage {
    /// The page of `limit` made from up to `limit + 1` tickets read: the
    /// extra one only tells that another page follows.
    pub(crate) fn of(mut tickets: Vec<Ticket>, limit: u32) -> Self {
        let next_cursor = keep_page(&mut tickets, limit, |t| PageCursor::after(t.id()));
        Self {
            tickets,
            next_cursor,
        }
    }
}

/// Keeps the first `limit` of up to `limit + 1` rows read (the extra one
/// only tells that another page follows) and returns the cursor after the
/// last kept row when one does.
pub(crate) fn keep_page<T, C>(
    rows: &mut Vec<T>,
    limit: u32,
    cursor: impl Fn(&T) -> C,
) -> Option<C> {
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    more.then(|| rows.last().map(cursor)).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_bounds() {
        assert!(PageLimit::new(0).is_err());
        assert!(PageLimit::new(101).is_err());
        assert!(PageLimit::new(-1).is_err());
        assert_eq!(PageLimit::new(100).map(PageLimit::get), Ok(100));
        assert_eq!(PageLimit::default().get(), 20);
    }

    #[test]
    fn cursor_round_trips_and_rejects_forgeries() {
        let c = PageCursor::after(TicketId::new(42).unwrap());
        let text = c.encode();
        assert!(!text.contains("42"), "cursor should be opaque: {text}");
        assert_eq!(PageCursor::decode(&text), Ok(c));
        for bad in [
            "",
            "42",
            "!!!",
            &URL_SAFE_NO_PAD.encode("t1:0"),
            &URL_SAFE_NO_PAD.encode("t1:-3"),
            &URL_SAFE_NO_PAD.encode("x:5"),
            &URL_SAFE_NO_PAD.encode("c1:5"),
        ] {
            assert!(PageCursor::decode(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn due_cursor_round_trips_and_is_not_a_page_cursor() {
        let at = DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap();
        let c = DueCursor {
            due_at: at,
            id: TicketId::new(42).unwrap(),
        };
        let text = c.encode();
        assert_eq!(DueCursor::decode(&text), Ok(c));
        assert!(PageCursor::decode(&text).is_err());
        let page = PageCursor::after(TicketId::new(42).unwrap()).encode();
        assert!(DueCursor::decode(&page).is_err());
        for bad in [
            "d1:x:1",
            "d1:5",
            "d1:5:0",
            "d1:5:-1",
            "d1:-1000000000000000000:1",
            "d1:8000000000000000000:1",
        ] {
            assert!(
                DueCursor::decode(&URL_SAFE_NO_PAD.encode(bad)).is_err(),
                "{bad}"
            );
        }
    }
}

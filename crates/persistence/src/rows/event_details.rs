//! The `details` column of an event: what its kind adds
//! ([`EventDetails`]) and the staff member's note, as JSON. The format is
//! this crate's own (the domain knows no JSON), written here and read back
//! here only; a stored text it does not describe exactly is corruption.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use support_domain::{
    CommentBody, CommentId, EventDetails, InvalidValue, RepositoryError, Resolution,
    ResolutionDetails, ResolutionType, SlaMetric, StaffId, StaffNote, Status, TicketEventKind,
};

use super::{optional, parse};
use crate::errors::corrupt;

/// The JSON object; both members are left out when empty, and an event
/// with neither stores NULL.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    details: Option<Details>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

/// [`EventDetails`] but `None`, tagged by `kind`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum Details {
    StatusChanged {
        previous: String,
        assignee: Option<i64>,
        resolution: Option<StoredResolution>,
    },
    Assigned {
        previous: Option<i64>,
        assignee: Option<i64>,
    },
    Comment {
        id: i64,
        internal: bool,
        body: String,
    },
    /// `due_at` in RFC 3339, microseconds, `Z`.
    Deadline { metric: String, due_at: String },
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredResolution {
    #[serde(rename = "type")]
    kind: String,
    details: String,
}

/// The column's value for `details` and `note`: NULL when both are empty.
pub(super) fn encode(
    details: &EventDetails,
    note: Option<&StaffNote>,
) -> Result<Option<String>, RepositoryError> {
    let details = match details {
        EventDetails::None => None,
        EventDetails::StatusChanged {
            previous,
            assignee,
            resolution,
        } => Some(Details::StatusChanged {
            previous: previous.as_str().to_owned(),
            assignee: assignee.map(StaffId::get),
            resolution: resolution.as_ref().map(|r| StoredResolution {
                kind: r.kind.as_str().to_owned(),
                details: r.details.as_str().to_owned(),
            }),
        }),
        EventDetails::Assigned { previous, assignee } => Some(Details::Assigned {
            previous: previous.map(StaffId::get),
            assignee: assignee.map(StaffId::get),
        }),
        EventDetails::Comment { id, internal, body } => Some(Details::Comment {
            id: id.get(),
            internal: *internal,
            body: body.as_str().to_owned(),
        }),
        EventDetails::Deadline { metric, due_at } => Some(Details::Deadline {
            metric: metric.as_str().to_owned(),
            due_at: due_at.to_rfc3339_opts(SecondsFormat::Micros, true),
        }),
    };
    let stored = Stored {
        details,
        note: note.map(|n| n.as_str().to_owned()),
    };
    if stored.details.is_none() && stored.note.is_none() {
        return Ok(None);
    }
    serde_json::to_string(&stored)
        .map(Some)
        .map_err(|e| RepositoryError::Corrupt(format!("ticket_events.details: {e}")))
}

/// What [`encode`] wrote: an object (serde would also read a struct from
/// an array) with at least one member (nothing is stored as NULL).
fn read(text: &str) -> Result<Stored, String> {
    let object = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text)
        .map_err(|e| e.to_string())?;
    let stored =
        Stored::deserialize(serde_json::Value::Object(object)).map_err(|e| e.to_string())?;
    if stored.details.is_none() && stored.note.is_none() {
        return Err("empty details are stored as NULL".to_owned());
    }
    Ok(stored)
}

/// The details and note of a stored event of `kind`; `internal` is its
/// column, which must agree with what the kind and the details say.
pub(super) fn decode(
    text: Option<&str>,
    internal: bool,
    kind: TicketEventKind,
) -> Result<(EventDetails, Option<StaffNote>), RepositoryError> {
    let stored = match text {
        None => Stored {
            details: None,
            note: None,
        },
        Some(text) => read(text).map_err(|e| corrupt("details", &InvalidValue::new(e)))?,
    };
    let details = match stored.details {
        None => EventDetails::None,
        Some(Details::StatusChanged {
            previous,
            assignee,
            resolution,
        }) => EventDetails::StatusChanged {
            previous: parse("details.previous", Status::parse(&previous))?,
            assignee: optional("details.assignee", assignee, StaffId::new)?,
            resolution: resolution
                .map(|r| {
                    Ok::<_, RepositoryError>(Resolution {
                        kind: parse("details.resolution.type", ResolutionType::parse(&r.kind))?,
                        details: parse(
                            "details.resolution.details",
                            ResolutionDetails::parse(&r.details),
                        )?,
                    })
                })
                .transpose()?,
        },
        Some(Details::Assigned { previous, assignee }) => EventDetails::Assigned {
            previous: optional("details.previous", previous, StaffId::new)?,
            assignee: optional("details.assignee", assignee, StaffId::new)?,
        },
        Some(Details::Comment { id, internal, body }) => EventDetails::Comment {
            id: parse("details.id", CommentId::new(id))?,
            internal,
            body: parse("details.body", CommentBody::parse(&body))?,
        },
        Some(Details::Deadline { metric, due_at }) => EventDetails::Deadline {
            metric: parse("details.metric", SlaMetric::parse(&metric))?,
            due_at: DateTime::parse_from_rfc3339(&due_at)
                .map(|at| at.with_timezone(&Utc))
                .map_err(|e| corrupt("details.due_at", &InvalidValue::new(e.to_string())))?,
        },
    };
    let staff_only = matches!(
        kind,
        TicketEventKind::SlaWarning | TicketEventKind::SlaBreached
    ) || matches!(details, EventDetails::Comment { internal: true, .. });
    if staff_only != internal {
        return Err(corrupt(
            "internal",
            &InvalidValue::new("disagrees with the event's details"),
        ));
    }
    let note = match stored.note {
        None => None,
        Some(text) => Some(
            parse("details.note", StaffNote::parse(&text))?
                .ok_or_else(|| corrupt("details.note", &InvalidValue::new("is blank")))?,
        ),
    };
    Ok((details, note))
}

#[cfg(test)]
#[path = "event_details_tests.rs"]
mod tests;

//! Every kind of details and the note survive the JSON; anything else
//! stored there is corruption.

use super::*;

fn staff(id: i64) -> StaffId {
    StaffId::new(id).unwrap()
}

fn note(text: &str) -> Option<StaffNote> {
    StaffNote::parse(text).unwrap()
}

fn every_kind() -> Vec<EventDetails> {
    vec![
        EventDetails::None,
        EventDetails::StatusChanged {
            previous: Status::InProgress,
            assignee: Some(staff(4)),
            resolution: Some(Resolution {
                kind: ResolutionType::NoAction,
                details: ResolutionDetails::parse("nothing to do — \"all fine\" 😀").unwrap(),
            }),
        },
        EventDetails::StatusChanged {
            previous: Status::Resolved,
            assignee: None,
            resolution: None,
        },
        EventDetails::Assigned {
            previous: None,
            assignee: Some(staff(9)),
        },
        EventDetails::Assigned {
            previous: Some(staff(9)),
            assignee: None,
        },
        EventDetails::Comment {
            id: CommentId::new(12).unwrap(),
            internal: true,
            body: CommentBody::parse("line one\nline two\t{\"json\": true}").unwrap(),
        },
        EventDetails::Comment {
            id: CommentId::new(i64::MAX).unwrap(),
            internal: false,
            body: CommentBody::parse("thanks").unwrap(),
        },
        EventDetails::Deadline {
            metric: SlaMetric::Resolution,
            due_at: DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap(),
        },
    ]
}

#[test]
fn every_kind_of_details_and_the_note_round_trip() {
    for details in every_kind() {
        let internal = matches!(details, EventDetails::Comment { internal: true, .. });
        for note in [None, note("checked with the kitchen")] {
            let text = encode(&details, note.as_ref()).unwrap();
            assert_eq!(
                text.is_none(),
                details == EventDetails::None && note.is_none(),
                "NULL only when there is nothing: {text:?}"
            );
            assert_eq!(
                decode(text.as_deref(), internal, TicketEventKind::Escalated).unwrap(),
                (details.clone(), note.clone())
            );
        }
    }
}

#[test]
fn what_this_crate_did_not_write_is_corrupt() {
    for text in [
        "not json",
        "[]",
        "{}",
        r#"[{"kind": "assigned", "previous": null, "assignee": 3}]"#,
        r#"{"details": {"kind": "renamed"}}"#,
        r#"{"unknown": 1}"#,
        r#"{"details": {"kind": "assigned", "previous": null, "assignee": 0}}"#,
        r#"{"details": {"kind": "assigned", "previous": null, "assignee": 3, "extra": 1}}"#,
        r#"{"details": {"kind": "status_changed", "previous": "lost", "assignee": null, "resolution": null}}"#,
        r#"{"details": {"kind": "status_changed", "previous": "open", "assignee": null, "resolution": {"type": "voucher", "details": "x"}}}"#,
        r#"{"details": {"kind": "comment", "id": 1, "internal": false, "body": "   "}}"#,
        r#"{"note": "   "}"#,
        r#"{"details": {"kind": "deadline", "metric": "lunch", "due_at": "2026-12-08T10:00:00.000000Z"}}"#,
        r#"{"details": {"kind": "deadline", "metric": "resolution", "due_at": "tomorrow"}}"#,
    ] {
        assert!(
            matches!(
                decode(Some(text), false, TicketEventKind::StatusChanged),
                Err(RepositoryError::Corrupt(_))
            ),
            "{text}"
        );
    }
}

#[test]
fn the_internal_column_must_agree_with_the_details() {
    let internal = EventDetails::Comment {
        id: CommentId::new(1).unwrap(),
        internal: true,
        body: CommentBody::parse("staff only").unwrap(),
    };
    let text = encode(&internal, None).unwrap();
    let kind = TicketEventKind::CommentAdded;
    assert!(decode(text.as_deref(), false, kind).is_err());
    assert!(decode(None, true, kind).is_err());
}

#[test]
fn deadline_warnings_and_breaches_are_staff_only() {
    let deadline = EventDetails::Deadline {
        metric: SlaMetric::FirstResponse,
        due_at: DateTime::from_timestamp_micros(1_700_000_000_000_001).unwrap(),
    };
    let text = encode(&deadline, None).unwrap();
    for kind in [TicketEventKind::SlaWarning, TicketEventKind::SlaBreached] {
        assert_eq!(
            decode(text.as_deref(), true, kind).unwrap(),
            (deadline.clone(), None)
        );
        assert!(decode(text.as_deref(), false, kind).is_err(), "{kind:?}");
    }
    // The escalation a breach causes carries the deadline and is public.
    assert!(decode(text.as_deref(), false, TicketEventKind::Escalated).is_ok());
}

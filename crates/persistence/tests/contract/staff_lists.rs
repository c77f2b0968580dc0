//! The staff workflow's ticket columns (assignee, resolution, first
//! response) as an update stores them, and the staff list's filters, every
//! combination, newest first in pages.

use support_domain::{
    AssigneeFilter, PointsAward, Priority, Resolution, ResolutionDetails, ResolutionType, StaffId,
    Status, TICKET_CREATED_ACTION, TICKET_RESOLVED_ACTION, TICKET_RESOLVED_POINTS, Ticket,
    TicketEvent, TicketFilter, TicketState,
};

use crate::support::*;

contract_tests!(
    assignment_resolution_and_first_response_are_stored,
    staff_lists_filter_by_every_combination_and_page,
    resolving_earns_points_besides_creating,
);

fn staff_id(id: i64) -> StaffId {
    StaffId::new(id).unwrap()
}

async fn assignment_resolution_and_first_response_are_stored(ctx: &Ctx) {
    let repo = ctx.repo();
    let mut ticket = insert(&*repo, 800, 0).await;
    let version = ticket.version();
    ticket.assign(Some(staff_id(80)), at(1, 0)).unwrap();
    let event = TicketEvent::assigned(staff(81), &ticket, None, at(1, 0));
    repo.update(&ticket, version, event, None).await.unwrap();
    assert_eq!(repo.find(ticket.id()).await.unwrap().unwrap(), ticket);

    comment_on(&*repo, &mut ticket, staff(80), "on it", false, at(2, 500))
        .await
        .unwrap();
    let version = ticket.version();
    ticket.start(staff_id(81), at(3, 0)).unwrap();
    let resolution = Resolution {
        kind: ResolutionType::Information,
        details: ResolutionDetails::parse("the booking was moved to 8 pm").unwrap(),
    };
    ticket.resolve(resolution.clone(), at(4, 0)).unwrap();
    let event = TicketEvent::status_changed(Some(staff(80)), &ticket, Status::Open, at(4, 0));
    repo.update(&ticket, version, event, None).await.unwrap();

    let found = repo.find(ticket.id()).await.unwrap().unwrap();
    assert_eq!(found, ticket);
    assert_eq!(
        found.assigned_staff_id(),
        Some(staff_id(80)),
        "start keeps the assignee"
    );
    assert_eq!(found.first_responded_at(), Some(at(2, 500)));
    assert_eq!(found.resolution(), Some(&resolution));
    assert_eq!(found.resolved_at(), Some(at(4, 0)));
    // The customer's view of the same row.
    assert_eq!(
        repo.find_for_customer(ticket.id(), customer(800))
            .await
            .unwrap(),
        Some(found)
    );
}

/// Every status, priority and assignee (or none) over `count` tickets of
/// several customers, stored through updates; returns them newest first.
async fn varied_tickets(ctx: &Ctx, count: i64) -> Vec<Ticket> {
    let repo = ctx.repo();
    let statuses = [Status::Open, Status::InProgress, Status::Closed];
    let priorities = [Priority::Low, Priority::High];
    let assignees = [None, Some(staff_id(3)), Some(staff_id(4))];
    let mut tickets = Vec::new();
    for n in 0..count {
        let t = insert(&*repo, 810 + n % 3, n).await;
        let index = usize::try_from(n).unwrap();
        let changed = Ticket::restore(
            t.id(),
            t.created().clone(),
            TicketState {
                status: statuses[index % 3],
                priority: priorities[index / 3 % 2],
                assigned_staff_id: assignees[index / 6 % 3],
                updated_at: at(n, 9),
                version: 2,
                ..t.state().clone()
            },
        );
        repo.update(&changed, 1, change_event(&changed), None)
            .await
            .unwrap();
        tickets.push(changed);
    }
    tickets.reverse();
    tickets
}

async fn staff_lists_filter_by_every_combination_and_page(ctx: &Ctx) {
    let repo = ctx.repo();
    let tickets = varied_tickets(ctx, 36).await;
    let mut combinations = 0;
    for status in [
        None,
        Some(Status::Open),
        Some(Status::Closed),
        Some(Status::Resolved),
    ] {
        for priority in [None, Some(Priority::High), Some(Priority::Low)] {
            for assignee in [
                None,
                Some(AssigneeFilter::Nobody),
                Some(AssigneeFilter::Staff(staff_id(3))),
            ] {
                let filter = TicketFilter {
                    status,
                    priority,
                    assignee,
                    breached: None,
                };
                let expected: Vec<Ticket> = tickets
                    .iter()
                    .filter(|t| status.is_none_or(|s| t.status() == s))
                    .filter(|t| priority.is_none_or(|p| t.priority() == p))
                    .filter(|t| match assignee {
                        None => true,
                        Some(AssigneeFilter::Nobody) => t.assigned_staff_id().is_none(),
                        Some(AssigneeFilter::Staff(s)) => t.assigned_staff_id() == Some(s),
                    })
                    .cloned()
                    .collect();
                let all = repo.list_all(filter, None, 100).await.unwrap();
                assert_eq!(all, expected, "{filter:?}");
                // The same in pages of two, each after the last one seen.
                let mut paged = Vec::new();
                let mut before = None;
                loop {
                    let page = repo.list_all(filter, before, 2).await.unwrap();
                    assert!(page.len() <= 2);
                    let Some(last) = page.last() else { break };
                    before = Some(last.id());
                    paged.extend(page);
                }
                assert_eq!(paged, expected, "{filter:?} in pages");
                combinations += 1;
            }
        }
    }
    assert_eq!(combinations, 36);
    let every = repo
        .list_all(TicketFilter::default(), None, 100)
        .await
        .unwrap();
    assert_eq!(every, tickets, "no filter: everyone's tickets");
}

async fn resolving_earns_points_besides_creating(ctx: &Ctx) {
    let repo = ctx.repo();
    let points = ctx.db.points();
    let ticket = insert(&*repo, 820, 0).await;
    for (action, user) in [(TICKET_CREATED_ACTION, 820), (TICKET_RESOLVED_ACTION, 82)] {
        for _ in 0..2 {
            points
                .award(PointsAward {
                    user_id: support_domain::UserId::new(user).unwrap(),
                    action,
                    points: TICKET_RESOLVED_POINTS,
                    ticket_id: ticket.id(),
                    awarded_at: at(1, 0),
                })
                .await
                .unwrap();
        }
    }
    let mut raw = Raw::open(ctx).await;
    let rows = format!(
        "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM points_ledger WHERE ticket_id = {}",
        ticket.id().get()
    );
    assert_eq!(raw.count(&rows).await, 2, "once per action");
}

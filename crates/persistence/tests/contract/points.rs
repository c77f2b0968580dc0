//! The points ledger: at most once per ticket and action.

use std::sync::Arc;

use support_domain::{
    PointsAward, TICKET_CREATED_ACTION, TICKET_CREATED_POINTS, Ticket, TicketId, UserId,
};

use crate::support::*;

contract_tests!(
    points_are_awarded_at_most_once_per_ticket_and_action,
    points_for_a_missing_ticket_are_refused,
    concurrent_awards_stand_or_fail_each_on_their_own,
);

async fn points_are_awarded_at_most_once_per_ticket_and_action(ctx: &Ctx) {
    let repo = ctx.repo();
    let points = ctx.db.points();
    let t1 = insert(&*repo, 90, 0).await;
    let t2 = insert(&*repo, 90, 1).await;
    let award = |ticket: &Ticket, action: &'static str| PointsAward {
        user_id: UserId::new(90).unwrap(),
        action,
        points: TICKET_CREATED_POINTS,
        ticket_id: ticket.id(),
        awarded_at: at(2, 0),
    };
    points
        .award(award(&t1, TICKET_CREATED_ACTION))
        .await
        .unwrap();
    points
        .award(award(&t1, TICKET_CREATED_ACTION))
        .await
        .unwrap();
    let mut raw = Raw::open(ctx).await;
    let rows_for = |id: TicketId| {
        format!(
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM points_ledger WHERE ticket_id = {}",
            id.get()
        )
    };
    assert_eq!(raw.count(&rows_for(t1.id())).await, 1, "awarded once");
    let total = "SELECT CAST(COALESCE(SUM(points), 0) AS BIGINT) AS n FROM points_ledger";
    assert_eq!(raw.count(total).await, i64::from(TICKET_CREATED_POINTS));

    // Concurrent repeats still grant once.
    let repeats: Vec<_> = (0..10)
        .map(|_| {
            let points = Arc::clone(&points);
            let award = award(&t2, TICKET_CREATED_ACTION);
            tokio::spawn(async move { points.award(award).await })
        })
        .collect();
    for r in repeats {
        r.await.unwrap().unwrap();
    }
    assert_eq!(raw.count(&rows_for(t2.id())).await, 1);

    // Another action on the same ticket is a separate award.
    points
        .award(award(&t1, "support_ticket_rated"))
        .await
        .unwrap();
    assert_eq!(raw.count(&rows_for(t1.id())).await, 2);
}

async fn points_for_a_missing_ticket_are_refused(ctx: &Ctx) {
    // The ledger references tickets; on SQLite this proves `foreign_keys = ON`.
    let award = PointsAward {
        user_id: UserId::new(1).unwrap(),
        action: TICKET_CREATED_ACTION,
        points: TICKET_CREATED_POINTS,
        ticket_id: TicketId::new(987_654).unwrap(),
        awarded_at: at(0, 0),
    };
    assert!(ctx.db.points().award(award).await.is_err());
    let mut raw = Raw::open(ctx).await;
    assert_eq!(
        raw.count("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM points_ledger")
            .await,
        0
    );
}

async fn concurrent_awards_stand_or_fail_each_on_their_own(ctx: &Ctx) {
    // Awards that arrive together may be stored together (PostgreSQL
    // batches them); one refused award must not take the others down.
    let repo = ctx.repo();
    let points = ctx.db.points();
    let mut tickets = Vec::new();
    for n in 0..20 {
        tickets.push(insert(&*repo, 91, n).await.id());
    }
    let missing = (0..10).map(|n| TicketId::new(900_000 + n).unwrap());
    let awards: Vec<_> = tickets
        .iter()
        .copied()
        .map(|id| (id, true))
        .chain(missing.map(|id| (id, false)))
        .map(|(ticket_id, exists)| {
            let points = Arc::clone(&points);
            let award = PointsAward {
                user_id: UserId::new(91).unwrap(),
                action: TICKET_CREATED_ACTION,
                points: TICKET_CREATED_POINTS,
                ticket_id,
                awarded_at: at(0, 0),
            };
            tokio::spawn(async move { (ticket_id, exists, points.award(award).await) })
        })
        .collect();
    for award in awards {
        let (ticket, exists, result) = award.await.unwrap();
        assert_eq!(result.is_ok(), exists, "ticket {ticket:?}: {result:?}");
    }
    let mut raw = Raw::open(ctx).await;
    assert_eq!(
        raw.count("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM points_ledger WHERE user_id = 91")
            .await,
        20
    );
}

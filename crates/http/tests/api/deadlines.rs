//! Deadlines on the wire: the ticket's fields, the policy route, and the
//! staff list by deadline and by breach.

use actix_web::test::{self, TestRequest};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};

use crate::support::*;

fn time(value: &Value) -> DateTime<Utc> {
    value.as_str().unwrap().parse().unwrap()
}

fn ids(r: &Resp) -> Vec<i64> {
    r.body["data"]["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect()
}

#[actix_web::test]
async fn the_policy_in_force_is_for_staff() {
    let ctx = ctx(Backend::Sqlite).await;
    let app = test::init_service(app(ctx.state.clone())).await;
    let r = send(&app, staff_get(&staff(900), "/sla-policy").to_request()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["message"], "SLA policy");
    assert_eq!(
        r.body["data"]["targets"]["urgent"],
        json!({"firstResponseSecs": 3600, "resolutionSecs": 14400})
    );
    assert_eq!(r.body["data"]["warningLeadSecs"], 900);
    assert_eq!(r.body["data"]["autoCloseAfterSecs"], 345_600);
    let r = send(&app, staff_get(&customer(5), "/sla-policy").to_request()).await;
    assert_eq!(r.status, 403);
    let r = send(
        &app,
        TestRequest::post()
            .uri("/api/support/sla-policy")
            .insert_header(bearer(&staff(900)))
            .to_request(),
    )
    .await;
    assert_eq!(r.status, 405);
}

#[actix_web::test]
async fn a_ticket_shows_its_deadlines() {
    let ctx = ctx(Backend::Sqlite).await;
    let app = test::init_service(app(ctx.state.clone())).await;
    let id = open_ticket(&app, 71).await;
    let r = send(
        &app,
        get(&customer(71), &format!("/tickets/{id}")).to_request(),
    )
    .await;
    let t = &r.body["data"];
    let created = time(&t["created_at"]);
    // A booking issue is medium: 8 h to answer, 48 h to resolve.
    assert_eq!(
        time(&t["first_response_due_at"]) - created,
        TimeDelta::hours(8)
    );
    assert_eq!(
        time(&t["resolution_due_at"]) - created,
        TimeDelta::hours(48)
    );
    assert_eq!(t["next_due_at"], t["first_response_due_at"]);
    assert_eq!(t["sla_breached"], json!([]));
    // Warnings are staff-only: a customer does not learn one went out.
    assert!(t.get("sla_warned").is_none(), "{t}");
    let page = send(&app, get(&customer(71), "/tickets").to_request()).await;
    assert!(page.body["data"]["tickets"][0].get("sla_warned").is_none());
    let r = send(
        &app,
        TestRequest::get()
            .uri(&format!("/api/support/tickets/{id}"))
            .insert_header(bearer(&staff(900)))
            .to_request(),
    )
    .await;
    assert_eq!(r.body["data"]["sla_warned"], json!([]), "{}", r.body);
}

#[actix_web::test]
async fn staff_list_by_nearest_deadline_and_by_breach() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let ctx = ctx(backend).await;
        let app = test::init_service(app(ctx.state.clone())).await;
        let a = open_ticket(&app, 72).await;
        let payment = json!({"issueType": "payment_issue", "description": "Charged twice tonight"});
        let b = send(&app, create(&customer(73), &payment).to_request())
            .await
            .body["data"]["ticketId"]
            .as_i64()
            .unwrap();
        let c = open_ticket(&app, 74).await;
        let by = staff(900);

        // b is high (due in 4 h), a and c medium (8 h), a created first.
        let first = send(
            &app,
            staff_get(&by, "/tickets?sort=due&limit=2").to_request(),
        )
        .await;
        assert_eq!(ids(&first), [b, a], "{backend:?}");
        let cursor = first.body["data"]["nextCursor"]
            .as_str()
            .unwrap()
            .to_owned();
        let rest = send(
            &app,
            staff_get(&by, &format!("/tickets?sort=due&limit=2&cursor={cursor}")).to_request(),
        )
        .await;
        assert_eq!(ids(&rest), [c]);
        assert_eq!(rest.body["data"]["nextCursor"], Value::Null);
        // A deadline cursor is not a newest-first one, nor the other way.
        let wrong = send(
            &app,
            staff_get(&by, &format!("/tickets?cursor={cursor}")).to_request(),
        )
        .await;
        assert_eq!(bad_fields(&wrong), ["cursor"]);
        let filtered = send(
            &app,
            staff_get(&by, "/tickets?sort=due&priority=medium").to_request(),
        )
        .await;
        assert_eq!(ids(&filtered), [a, c]);

        let breached = send(&app, staff_get(&by, "/tickets?breached=true").to_request()).await;
        assert_eq!(ids(&breached), Vec::<i64>::new());
        let clean = send(&app, staff_get(&by, "/tickets?breached=false").to_request()).await;
        assert_eq!(ids(&clean), [c, b, a]);
        let bad = send(
            &app,
            staff_get(&by, "/tickets?sort=soon&breached=1").to_request(),
        )
        .await;
        assert_eq!(bad_fields(&bad), ["breached", "sort"]);
    }
}

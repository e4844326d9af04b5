//! The console's tickets list on SQLite and PostgreSQL: filters by kind,
//! status and overdue, a page at a time, newest first.

mod support;

use std::collections::BTreeMap;

use hotline::crm::lists::TicketFilter;
use hotline::crm::tickets::{NewTicket, demo_ticket_types};
use hotline::crm::{Db, now_ms};
use support::databases;

#[tokio::test]
async fn tickets_filter_by_kind_status_and_overdue_a_page_at_a_time() {
    for database in databases::both().await {
        let db = Db::connect(&database.url).await.unwrap();
        let types = demo_ticket_types();
        let mut numbers = Vec::new();
        for (call, kind, field) in [
            ("c1", "line_repair", None),
            ("c2", "line_repair", None),
            ("c3", "callback", Some(("callback_number", "+380441234567"))),
        ] {
            let request = NewTicket {
                call_id: call.into(),
                kind: kind.into(),
                customer_id: None,
                phone: "+380441234567".into(),
                fields: field
                    .map(|(k, v)| BTreeMap::from([(k.to_owned(), v.to_owned())]))
                    .unwrap_or_default(),
            };
            numbers.push(db.register_ticket(&request, &types).await.unwrap().number);
        }
        // The first repair is past due; the callback was closed, past due too.
        let pool = sqlx::AnyPool::connect(&database.url).await.unwrap();
        for (number, status) in [(&numbers[0], "open"), (&numbers[2], "closed")] {
            sqlx::query("UPDATE tickets SET due_at = 1, status = $1 WHERE number = $2")
                .bind(status)
                .bind(number)
                .execute(&pool)
                .await
                .unwrap();
        }
        let all = TicketFilter {
            from_ms: 0,
            to_ms: now_ms() + 1,
            kind: None,
            status: None,
            overdue: false,
            offset: 0,
            limit: 50,
        };
        let listed = |filter: TicketFilter| {
            let db = db.clone();
            async move {
                let (total, rows) = db.filtered_tickets(filter).await.unwrap();
                let numbers: Vec<String> = rows.into_iter().map(|t| t.ticket).collect();
                (total, numbers)
            }
        };
        let kind = database.kind;
        let repairs = TicketFilter {
            kind: Some("line_repair".into()),
            ..all.clone()
        };
        let both_repairs = vec![numbers[1].clone(), numbers[0].clone()];
        assert_eq!(listed(repairs.clone()).await, (2, both_repairs), "{kind}");
        let second_page = TicketFilter {
            offset: 1,
            limit: 1,
            ..repairs
        };
        let first_repair = vec![numbers[0].clone()];
        assert_eq!(
            listed(second_page).await,
            (2, first_repair.clone()),
            "{kind}"
        );
        let overdue = TicketFilter {
            overdue: true,
            ..all.clone()
        };
        assert_eq!(listed(overdue).await, (1, first_repair), "{kind}");
        let closed = TicketFilter {
            status: Some("closed".into()),
            ..all.clone()
        };
        assert_eq!(
            listed(closed).await,
            (1, vec![numbers[2].clone()]),
            "{kind}"
        );
        let (_, rows) = db.filtered_tickets(all).await.unwrap();
        let overdue: Vec<bool> = rows.iter().map(|t| t.overdue).collect();
        assert_eq!(overdue, [false, false, true], "{kind}: newest first");
    }
}

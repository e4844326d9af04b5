//! The ACD election on a real PostgreSQL: one leader at a time, a takeover
//! when the leader's lock connection dies, and the former leader's writes
//! refused by the epoch they carry.

mod support;

use std::time::{Duration, Instant};

use hotline::cluster::leader::{Role, Timing};
use hotline::cluster::lock;
use hotline::crm::Db;
use hotline::crm::batch::Record;
use hotline::crm::writer::{RecordWriter, WriterSettings};
use sqlx::Connection;
use support::databases;
use tokio::sync::watch;

const TIMING: Timing = Timing {
    check_every: Duration::from_millis(300),
    lease: Duration::from_millis(1500),
    retry_every: Duration::from_millis(300),
};

/// Waits until `role` satisfies `wanted`, at most `limit`.
async fn until(role: &mut watch::Receiver<Role>, limit: Duration, wanted: impl Fn(Role) -> bool) {
    let deadline = Instant::now() + limit;
    while !wanted(*role.borrow_and_update()) {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            tokio::time::timeout(left, role.changed()).await.is_ok(),
            "role still {:?} after {limit:?}",
            *role.borrow()
        );
    }
}

fn writer(db: &Db, epoch: i64) -> RecordWriter {
    let settings = WriterSettings {
        fence: Some(epoch),
        ..WriterSettings::default()
    };
    RecordWriter::spawn(db.clone(), settings)
}

#[tokio::test]
async fn the_cluster_tables_migrate_on_sqlite_and_postgresql() {
    for database in databases::both().await {
        let db = Db::connect(&database.url).await.unwrap();
        db.migrate().await.unwrap();
        let leader = db.cluster_leader().await.unwrap();
        assert_eq!(leader.epoch, 0, "{}", database.kind);
        assert_eq!(leader.node_id, None, "{}", database.kind);
    }
}

#[tokio::test]
async fn one_leader_a_takeover_when_its_connection_dies_and_its_old_epoch_refused() {
    let database = databases::postgres().await;
    let db = Db::connect(&database.url).await.unwrap();
    let mut a = lock::spawn(&database.url, "node-a", TIMING).unwrap();
    until(&mut a, Duration::from_secs(10), |r| {
        r == Role::Leader { epoch: 1 }
    })
    .await;
    let mut b = lock::spawn(&database.url, "node-b", TIMING).unwrap();
    // b keeps trying for a while and stays a follower.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(*b.borrow(), Role::Follower);
    let leader = db.cluster_leader().await.unwrap();
    assert_eq!(
        (leader.epoch, leader.node_id.as_deref()),
        (1, Some("node-a"))
    );

    // The leader writes with its epoch.
    let old = writer(&db, 1);
    old.send(Record::queue_event(&serde_json::json!({"event": "by_a"})));
    assert!(old.flush(Duration::from_secs(10)).await);

    // The database ends a's lock session, as when its network goes.
    let mut admin = sqlx::PgConnection::connect(&database.url).await.unwrap();
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE application_name = 'hotline-acd-lock node-a'",
    )
    .execute(&mut admin)
    .await
    .unwrap();
    until(&mut a, Duration::from_secs(5), |r| r == Role::Follower).await;
    until(&mut b, Duration::from_secs(5), |r| {
        r == Role::Leader { epoch: 2 }
    })
    .await;
    let leader = db.cluster_leader().await.unwrap();
    assert_eq!(
        (leader.epoch, leader.node_id.as_deref()),
        (2, Some("node-b"))
    );

    // A write a's ACD still had queued, with epoch 1, is refused; b's is taken.
    old.send(Record::queue_event(
        &serde_json::json!({"event": "late_by_a"}),
    ));
    assert!(old.flush(Duration::from_secs(10)).await);
    assert_eq!(old.stats().rejected, 1);
    let new = writer(&db, 2);
    new.send(Record::queue_event(&serde_json::json!({"event": "by_b"})));
    assert!(new.flush(Duration::from_secs(10)).await);
    let events: Vec<String> = db
        .queue_events(10)
        .await
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(events.contains(&"by_a".to_owned()), "{events:?}");
    assert!(events.contains(&"by_b".to_owned()), "{events:?}");
    assert!(!events.contains(&"late_by_a".to_owned()), "{events:?}");
    // a, now a follower, does not get the lock back while b holds it.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(*a.borrow(), Role::Follower);
}

#[tokio::test]
async fn waiting_callers_places_pass_to_the_next_acd_and_a_former_acds_are_refused() {
    use hotline::crm::cluster::WaitingPlace;
    let database = databases::postgres().await;
    let db = Db::connect(&database.url).await.unwrap();
    let mut a = lock::spawn(&database.url, "node-a", TIMING).unwrap();
    until(&mut a, Duration::from_secs(10), |r| {
        r == Role::Leader { epoch: 1 }
    })
    .await;
    let place = |number: &str, arrived_at| WaitingPlace {
        number: number.into(),
        queue: "support".into(),
        arrived_at,
    };
    db.update_waiting_places(
        1,
        &[place("+380441234567", 1_000), place("+380671112233", 2_000)],
        &[],
    )
    .await
    .unwrap();
    db.update_waiting_places(1, &[], &[("+380441234567".into(), "support".into())])
        .await
        .unwrap();
    drop(a);
    let mut b = lock::spawn(&database.url, "node-b", TIMING).unwrap();
    until(&mut b, Duration::from_secs(10), |r| {
        r == Role::Leader { epoch: 2 }
    })
    .await;
    // The former ACD's late write is refused; the new one takes the places.
    let late = db
        .update_waiting_places(1, &[place("+380501234567", 3_000)], &[])
        .await;
    assert!(
        matches!(
            late,
            Err(hotline::crm::DbError::Fenced {
                epoch: 1,
                current: 2
            })
        ),
        "{late:?}"
    );
    let taken = db.take_waiting_places(2).await.unwrap();
    assert_eq!(taken, [place("+380671112233", 2_000)]);
    assert!(db.take_waiting_places(2).await.unwrap().is_empty());
}

#[tokio::test]
async fn the_acds_snapshot_is_served_only_while_its_epoch_leads_and_commands_apply_once() {
    use hotline::crm::DbError;
    use hotline::crm::cluster_queue::CommandOutcome;
    let database = databases::postgres().await;
    let db = Db::connect(&database.url).await.unwrap();
    let mut connection = sqlx::PgConnection::connect(&database.url).await.unwrap();
    let first = lock::bump_epoch(&mut connection, "node-a").await.unwrap();

    // The leading ACD's snapshot is served; a fenced one is refused.
    db.publish_queue_snapshot(first, r#"{"agents": [], "queues": []}"#)
        .await
        .unwrap();
    let served = db.queue_snapshot(5000).await.unwrap().expect("a snapshot");
    assert_eq!(served.body, r#"{"agents": [], "queues": []}"#);
    assert!(served.age_ms < 5000);
    assert!(matches!(
        db.publish_queue_snapshot(first - 1, "{}").await,
        Err(DbError::Fenced { .. })
    ));

    // Two commands in order; the first is claimed once, the second withdrawn by its asker.
    let pause = db.send_agent_command("alice", "pause:lunch").await.unwrap();
    let login = db.send_agent_command("bob", "login").await.unwrap();
    let pending = db.pending_agent_commands(10_000).await.unwrap();
    let seqs: Vec<i64> = pending.iter().map(|c| c.seq).collect();
    assert_eq!(seqs, [pause, login]);
    assert_eq!(pending[0].input, "pause:lunch");
    let claim = |seq| db.settle_agent_command(first, seq, None, CommandOutcome::Applying);
    assert!(claim(pause).await.unwrap());
    assert!(!claim(pause).await.unwrap(), "claimed twice");
    assert!(!db.withdraw_agent_command(pause).await.unwrap());
    assert!(db.withdraw_agent_command(login).await.unwrap());
    assert!(
        !claim(login).await.unwrap(),
        "a withdrawn command was taken"
    );
    let done = Some(CommandOutcome::Applying);
    assert!(
        db.settle_agent_command(first, pause, done, CommandOutcome::Done)
            .await
            .unwrap()
    );
    assert_eq!(
        db.agent_command_outcome(pause).await.unwrap(),
        Some(CommandOutcome::Done)
    );
    assert!(db.pending_agent_commands(10_000).await.unwrap().is_empty());

    // A takeover: the old ACD's snapshot is no longer served, its writes refused.
    let second = lock::bump_epoch(&mut connection, "node-b").await.unwrap();
    assert_eq!(db.queue_snapshot(5000).await.unwrap(), None);
    let late = db.send_agent_command("alice", "unpause").await.unwrap();
    assert!(matches!(
        db.settle_agent_command(first, late, None, CommandOutcome::Applying)
            .await,
        Err(DbError::Fenced { .. })
    ));
    assert!(
        db.settle_agent_command(second, late, None, CommandOutcome::Applying)
            .await
            .unwrap()
    );
}

//! The record writer: one task that writes call records, call events and
//! queue events in batches, one transaction each, on a connection of its own.
//!
//! Calls used to write their records themselves, several round trips per
//! call on the shared pool, and dropped them when the database was slow. Here
//! a call hands its records over and goes on. The writer takes whatever has
//! queued (up to `max_rows`, waiting at most `window` for more) and commits it
//! at once. A batch that fails is kept and tried again until the database
//! takes it, so while the server runs no record is lost: the backlog grows
//! instead, and admission control refuses new calls before it grows far
//! (`server::admission`). A crash loses at most what was queued, one window's
//! worth; calls it leaves open are closed as interrupted at the next start.
//!
//! Reads never share the writer's connection, so a caller lookup does not
//! wait behind a batch.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::{error, info, warn};

use super::batch::{CallInsert, CallUpdate, EventInsert, Plan, Record};
use super::{Db, DbError};

/// How the writer groups records.
#[derive(Debug, Clone)]
pub struct WriterSettings {
    /// Longest a record waits for others to share its transaction.
    pub window: Duration,
    /// Most records in one transaction.
    pub max_rows: usize,
    /// The ACD's epoch, for the writer of a cluster's ACD: each batch is
    /// written only while `cluster_leader` still holds this epoch, checked
    /// in the batch's own transaction, so a former leader's writes are refused.
    pub fence: Option<i64>,
    /// On a cluster, this node's name, written in the calls it records
    /// (`calls.node`), so reports can say which node took a call.
    pub node: Option<String>,
}

impl Default for WriterSettings {
    fn default() -> Self {
        WriterSettings {
            window: Duration::from_millis(20),
            max_rows: 2000,
            fence: None,
            node: None,
        }
    }
}

/// Hands records to the writer task; cheap to clone.
#[derive(Clone, Debug)]
pub struct RecordWriter {
    queue: mpsc::UnboundedSender<Item>,
    stats: Arc<WriterStats>,
}

/// What the writer has done and holds, for status pages and admission.
#[derive(Debug, Default)]
pub struct WriterStats {
    /// Records handed over and not yet committed.
    backlog: AtomicUsize,
    /// Records committed since start.
    written: AtomicU64,
    /// Transactions committed since start.
    batches: AtomicU64,
    /// Batches the database refused or could not take (each tried again).
    retries: AtomicU64,
    /// Records the database rejected as invalid (a constraint), logged as errors.
    rejected: AtomicU64,
}

enum Item {
    Record(Record),
    /// Answered once everything sent before it is committed.
    Flush(oneshot::Sender<()>),
}

impl RecordWriter {
    /// Starts the writer task on `db`, which should be a connection of its own
    /// ([`Db::open_writer`]).
    pub fn spawn(db: Db, settings: WriterSettings) -> RecordWriter {
        let (queue, items) = mpsc::unbounded_channel();
        let stats = Arc::new(WriterStats::default());
        tokio::spawn(run(db, items, Arc::clone(&stats), settings));
        RecordWriter { queue, stats }
    }

    /// Queues a record; it is written with the next batch.
    pub fn send(&self, record: Record) {
        self.stats.backlog.fetch_add(1, Ordering::Relaxed);
        if self.queue.send(Item::Record(record)).is_err() {
            // Only a writer task that panicked is gone.
            self.stats.backlog.fetch_sub(1, Ordering::Relaxed);
            error!("the record writer has stopped; a record is lost");
        }
    }

    /// Waits until everything sent before is committed, or `limit` passes;
    /// whether it was committed in time.
    pub async fn flush(&self, limit: Duration) -> bool {
        let (done, committed) = oneshot::channel();
        if self.queue.send(Item::Flush(done)).is_err() {
            return false;
        }
        matches!(tokio::time::timeout(limit, committed).await, Ok(Ok(())))
    }

    /// Records handed over and not yet committed.
    pub fn backlog(&self) -> usize {
        self.stats.backlog.load(Ordering::Relaxed)
    }

    /// The writer's figures, for the admin API.
    pub fn stats(&self) -> RecordStats {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        RecordStats {
            backlog: self.backlog(),
            written: read(&self.stats.written),
            batches: read(&self.stats.batches),
            retries: read(&self.stats.retries),
            rejected: read(&self.stats.rejected),
        }
    }
}

/// The record writer's figures, as `GET /status` shows them.
#[derive(Debug, Clone, Copy, serde::Serialize, utoipa::ToSchema)]
pub struct RecordStats {
    /// Records handed over and not yet committed: what admission control watches.
    pub backlog: usize,
    /// Records committed since start.
    pub written: u64,
    /// Transactions committed since start.
    pub batches: u64,
    /// Batches tried again after the database failed to take them.
    pub retries: u64,
    /// Records the database rejected as invalid (logged as errors).
    pub rejected: u64,
}

/// The first wait after a failed batch; doubled up to `MAX_BACKOFF`.
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

async fn run(
    db: Db,
    mut items: mpsc::UnboundedReceiver<Item>,
    stats: Arc<WriterStats>,
    settings: WriterSettings,
) {
    let mut records = Vec::new();
    let mut flushes = Vec::new();
    while let Some(first) = items.recv().await {
        take(first, &mut records, &mut flushes);
        let deadline = Instant::now() + settings.window;
        while records.len() < settings.max_rows {
            // What is queued already goes without waiting for the window.
            let next = match items.try_recv() {
                Ok(item) => Some(item),
                Err(_) if records.is_empty() => None,
                Err(_) => tokio::time::timeout_at(deadline, items.recv())
                    .await
                    .ok()
                    .flatten(),
            };
            match next {
                Some(item) => take(item, &mut records, &mut flushes),
                None => break,
            }
        }
        if !records.is_empty() {
            write_until_done(&db, &records, &stats, &settings).await;
            stats.backlog.fetch_sub(records.len(), Ordering::Relaxed);
            records.clear();
        }
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
    }
}

fn take(item: Item, records: &mut Vec<Record>, flushes: &mut Vec<oneshot::Sender<()>>) {
    match item {
        Item::Record(record) => records.push(record),
        Item::Flush(done) => flushes.push(done),
    }
}

/// Writes `records`, trying again after a failure for as long as it takes.
async fn write_until_done(
    db: &Db,
    records: &[Record],
    stats: &WriterStats,
    settings: &WriterSettings,
) {
    let plan = Plan::new(records);
    let mut backoff = FIRST_BACKOFF;
    let mut failing = false;
    loop {
        match write(db, &plan, settings).await {
            Ok(()) => break,
            Err(DbError::Fenced { epoch, current }) => {
                // A newer leader writes now; this node's view is stale.
                stats
                    .rejected
                    .fetch_add(records.len() as u64, Ordering::Relaxed);
                error!(
                    epoch,
                    current,
                    rows = records.len(),
                    "records of a former ACD leader refused"
                );
                return;
            }
            Err(error) if is_invalid(&error) => {
                // One row the database will never take must not hold up the
                // others: write them one by one and report that row.
                write_one_by_one(db, records, stats, settings).await;
                return;
            }
            Err(error) => {
                stats.retries.fetch_add(1, Ordering::Relaxed);
                if !failing {
                    warn!(%error, rows = records.len(), "records not written yet; trying again");
                    failing = true;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
    if failing {
        info!(
            rows = records.len(),
            "records written after the database came back"
        );
    }
    stats
        .written
        .fetch_add(records.len() as u64, Ordering::Relaxed);
    stats.batches.fetch_add(1, Ordering::Relaxed);
}

async fn write_one_by_one(
    db: &Db,
    records: &[Record],
    stats: &WriterStats,
    settings: &WriterSettings,
) {
    for record in records {
        let plan = Plan::new(std::slice::from_ref(record));
        let mut backoff = FIRST_BACKOFF;
        loop {
            match write(db, &plan, settings).await {
                Ok(()) => {
                    stats.written.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                Err(error) if is_invalid(&error) || matches!(error, DbError::Fenced { .. }) => {
                    stats.rejected.fetch_add(1, Ordering::Relaxed);
                    error!(%error, record = kind(record), "the database rejected a record");
                    break;
                }
                Err(_) => {
                    stats.retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
    stats.batches.fetch_add(1, Ordering::Relaxed);
}

/// Whether the database refused the data itself (a constraint), so trying
/// the same again cannot succeed. A retried batch that had in fact been
/// committed lands here too, as a duplicate id, and is rightly skipped.
fn is_invalid(error: &DbError) -> bool {
    match error {
        DbError::Unavailable(sqlx::Error::Database(error)) => {
            !matches!(error.kind(), sqlx::error::ErrorKind::Other)
        }
        _ => false,
    }
}

/// A record's kind for logs; never its content (it holds phone numbers).
fn kind(record: &Record) -> &'static str {
    match record {
        Record::CallStarted { .. } => "call started",
        Record::CallEvent { .. } => "call event",
        Record::CallCustomer { .. } => "call customer",
        Record::CallFlow { .. } => "call flow",
        Record::CallFinished { .. } => "call finished",
        Record::QueueEvent { .. } => "queue event",
    }
}

/// Rows per multi-row insert: well under SQLite's 999 bound parameters.
const ROWS_PER_INSERT: usize = 50;

/// Writes one plan in one transaction, if the settings' `fence` is still the ACD's epoch.
async fn write(db: &Db, plan: &Plan, settings: &WriterSettings) -> Result<(), DbError> {
    let mut tx = db.begin_write().await?;
    if let Some(epoch) = settings.fence {
        super::cluster::check_epoch(&mut tx, epoch).await?;
        if !plan.queue_events.is_empty() {
            // Delivered at commit: every node's feed reads the new rows.
            sqlx::query(super::cluster::NOTIFY_QUEUE_EVENTS)
                .execute(&mut *tx)
                .await?;
        }
    }
    for chunk in plan.calls.chunks(ROWS_PER_INSERT) {
        insert_calls(&mut tx, chunk, settings.node.as_deref()).await?;
    }
    for chunk in plan.call_events.chunks(ROWS_PER_INSERT) {
        insert_events(
            &mut tx,
            "call_events (id, call_id, at, kind, detail)",
            chunk,
        )
        .await?;
    }
    for chunk in plan.queue_events.chunks(ROWS_PER_INSERT) {
        insert_events(&mut tx, "queue_events (id, at, kind, data)", chunk).await?;
    }
    for update in &plan.updates {
        update_call(&mut tx, update).await?;
    }
    tx.commit().await?;
    Ok(())
}

type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// `($1, $2, …), ($n+1, …)`: `rows` groups of `columns` placeholders.
fn placeholders(rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|row| {
            let group: Vec<String> = (1..=columns)
                .map(|column| format!("${}", row * columns + column))
                .collect();
            format!("({})", group.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

async fn insert_calls(
    tx: &mut Tx,
    calls: &[CallInsert],
    node: Option<&str>,
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "INSERT INTO calls (id, sip_call_id, caller, channel, customer_id, flow_version,
                            outcome, flow_outcome, path, started_at, ended_at, node) VALUES {}",
        placeholders(calls.len(), 12)
    );
    let mut query = sqlx::query(&sql);
    for call in calls {
        query = query
            .bind(call.id.clone())
            .bind(call.sip_call_id.clone())
            .bind(call.caller.clone())
            .bind(call.channel)
            .bind(call.customer_id.clone())
            .bind(call.flow_version.clone())
            .bind(call.outcome.clone())
            .bind(call.flow_outcome.clone())
            .bind(call.path.clone())
            .bind(call.started_at)
            .bind(call.ended_at)
            .bind(node.map(str::to_owned));
    }
    query.execute(&mut **tx).await?;
    Ok(())
}

/// Inserts call events (with their call) or queue events (without) into `table`.
async fn insert_events(
    tx: &mut Tx,
    table: &str,
    events: &[EventInsert],
) -> Result<(), sqlx::Error> {
    let columns = if events.first().is_some_and(|e| e.call_id.is_some()) {
        5
    } else {
        4
    };
    let sql = format!(
        "INSERT INTO {table} VALUES {}",
        placeholders(events.len(), columns)
    );
    let mut query = sqlx::query(&sql);
    for event in events {
        query = query.bind(event.id.clone());
        if let Some(call_id) = &event.call_id {
            query = query.bind(call_id.clone());
        }
        query = query
            .bind(event.at)
            .bind(event.kind.clone())
            .bind(event.detail.clone());
    }
    query.execute(&mut **tx).await?;
    Ok(())
}

async fn update_call(tx: &mut Tx, update: &CallUpdate) -> Result<(), sqlx::Error> {
    let mut sets = Vec::new();
    let mut next = 1;
    let mut assign = |column: &str| {
        sets.push(format!("{column} = ${next}"));
        next += 1;
    };
    if update.customer_id.is_some() {
        assign("customer_id");
    }
    if update.flow_version.is_some() {
        assign("flow_version");
    }
    if update.end.is_some() {
        for column in ["outcome", "flow_outcome", "path", "ended_at"] {
            assign(column);
        }
    }
    let sql = format!("UPDATE calls SET {} WHERE id = ${next}", sets.join(", "));
    let mut query = sqlx::query(&sql);
    if let Some(customer) = &update.customer_id {
        query = query.bind(customer.clone());
    }
    if let Some(version) = &update.flow_version {
        query = query.bind(version.clone());
    }
    if let Some((end, at)) = &update.end {
        query = query
            .bind(end.outcome.clone())
            .bind(end.flow_outcome.clone())
            .bind(end.path.clone())
            .bind(*at);
    }
    query
        .bind(update.call_id.clone())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use sqlx::Connection;

    use super::*;
    use crate::crm::calls::CallEnd;

    struct Fixture {
        _dir: tempfile::TempDir,
        url: String,
        db: Db,
    }

    async fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("writer.db").display());
        let db = Db::connect(&url).await.unwrap();
        Fixture { _dir: dir, url, db }
    }

    async fn writer(fixture: &Fixture) -> RecordWriter {
        RecordWriter::spawn(
            Db::open_writer(&fixture.url).await.unwrap(),
            WriterSettings::default(),
        )
    }

    fn call(writer: &RecordWriter, id: &str) {
        writer.send(Record::CallStarted {
            id: id.into(),
            sip_call_id: format!("{id}@test"),
            caller: "+380441234567".into(),
            channel: "sip",
            customer_id: None,
            at: 1,
        });
        writer.send(Record::call_event(id, "digit", "1 rfc4733".into()));
        writer.send(Record::CallFinished {
            call_id: id.into(),
            end: CallEnd {
                outcome: "ended: RemoteBye".into(),
                ..CallEnd::default()
            },
            at: 2,
        });
    }

    async fn count(db: &Db, sql: &str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(db.pool()).await.unwrap()
    }

    #[tokio::test]
    async fn records_queued_together_are_written_in_one_transaction() {
        let fixture = fixture().await;
        let writer = writer(&fixture).await;
        for n in 0..100 {
            call(&writer, &format!("call-{n}"));
        }
        assert_eq!(writer.backlog(), 300);
        assert!(writer.flush(Duration::from_secs(10)).await);
        let db = &fixture.db;
        let ended = "SELECT COUNT(*) FROM calls WHERE ended_at IS NOT NULL";
        assert_eq!(count(db, ended).await, 100);
        assert_eq!(count(db, "SELECT COUNT(*) FROM call_events").await, 100);
        let figures = writer.stats();
        assert_eq!(figures.batches, 1, "{figures:?}");
        assert_eq!(figures.written, 300);
        assert_eq!(writer.backlog(), 0);
    }

    #[tokio::test]
    async fn a_database_taking_no_writes_holds_the_records_until_it_does() {
        let fixture = fixture().await;
        let writer = writer(&fixture).await;
        let mut blocker = sqlx::SqliteConnection::connect(&fixture.url).await.unwrap();
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut blocker)
            .await
            .unwrap();
        for n in 0..10 {
            call(&writer, &format!("held-{n}"));
        }
        assert!(!writer.flush(Duration::from_millis(500)).await);
        assert_eq!(writer.backlog(), 30, "every record is held and reported");
        assert_eq!(count(&fixture.db, "SELECT COUNT(*) FROM calls").await, 0);

        sqlx::query("ROLLBACK").execute(&mut blocker).await.unwrap();
        assert!(writer.flush(Duration::from_secs(15)).await);
        assert_eq!(writer.backlog(), 0);
        let ended = "SELECT COUNT(*) FROM calls WHERE ended_at IS NOT NULL";
        assert_eq!(count(&fixture.db, ended).await, 10);
        assert_eq!(
            count(&fixture.db, "SELECT COUNT(*) FROM call_events").await,
            10
        );
    }

    #[tokio::test]
    async fn a_record_the_database_rejects_loses_no_other_record() {
        let fixture = fixture().await;
        let writer = writer(&fixture).await;
        call(&writer, "good");
        // An event of a call never begun breaks the foreign key.
        writer.send(Record::call_event("nobody", "digit", "5".into()));
        call(&writer, "also-good");
        assert!(writer.flush(Duration::from_secs(10)).await);
        assert_eq!(count(&fixture.db, "SELECT COUNT(*) FROM calls").await, 2);
        assert_eq!(
            count(&fixture.db, "SELECT COUNT(*) FROM call_events").await,
            2
        );
        assert_eq!(writer.stats().rejected, 1);
        assert_eq!(writer.backlog(), 0);
    }

    #[tokio::test]
    async fn updates_of_calls_begun_in_an_earlier_batch_are_written() {
        let fixture = fixture().await;
        let writer = writer(&fixture).await;
        writer.send(Record::CallStarted {
            id: "long".into(),
            sip_call_id: "long@test".into(),
            caller: "+380441234567".into(),
            channel: "sip",
            customer_id: None,
            at: 1,
        });
        assert!(writer.flush(Duration::from_secs(10)).await);
        writer.send(Record::CallFlow {
            call_id: "long".into(),
            version: "hotline.yaml@1".into(),
        });
        writer.send(Record::queue_event(&serde_json::json!({"event": "joined"})));
        writer.send(Record::CallFinished {
            call_id: "long".into(),
            end: CallEnd {
                outcome: "ended: RemoteBye".into(),
                flow_outcome: Some("contained_by_ivr".into()),
                path: Some("welcome".into()),
            },
            at: 5,
        });
        assert!(writer.flush(Duration::from_secs(10)).await);
        let calls = fixture.db.list_calls(10).await.unwrap();
        assert_eq!(calls[0].flow_version.as_deref(), Some("hotline.yaml@1"));
        assert_eq!(calls[0].outcome.as_deref(), Some("ended: RemoteBye"));
        assert_eq!(calls[0].path.as_deref(), Some("welcome"));
        let log = fixture.db.queue_events(10).await.unwrap();
        assert_eq!(log, vec![serde_json::json!({"event": "joined"})]);
    }

    #[tokio::test]
    async fn a_call_left_open_by_a_crash_is_closed_as_interrupted_at_its_last_event() {
        let fixture = fixture().await;
        let writer = writer(&fixture).await;
        call(&writer, "finished");
        writer.send(Record::CallStarted {
            id: "open".into(),
            sip_call_id: "open@test".into(),
            caller: "+380441234567".into(),
            channel: "sip",
            customer_id: None,
            at: 1,
        });
        writer.send(Record::CallEvent {
            id: "e1".into(),
            call_id: "open".into(),
            kind: "digit".into(),
            detail: "1".into(),
            at: 7,
        });
        assert!(writer.flush(Duration::from_secs(10)).await);
        assert_eq!(fixture.db.close_interrupted_calls().await.unwrap(), 1);
        let calls = fixture.db.list_calls(10).await.unwrap();
        let open = calls.iter().find(|c| c.id == "open").unwrap();
        assert_eq!(open.outcome.as_deref(), Some("interrupted"));
        assert_eq!(open.ended_at.as_deref(), Some("1970-01-01T00:00:00.007Z"));
        let finished = calls.iter().find(|c| c.id == "finished").unwrap();
        assert_eq!(finished.outcome.as_deref(), Some("ended: RemoteBye"));
        assert_eq!(fixture.db.close_interrupted_calls().await.unwrap(), 0);
    }
}

//! Delivering registered tickets to the CRM, from the outbox: to its webhook
//! or HTTP API, or into its SQL database (`delivery_sql`).
//!
//! At-least-once delivery with a stable idempotency key gives the receiver an
//! exactly-once effect: a ticket counts as delivered only after its 2xx is
//! recorded, so a crash between the POST and that record re-sends the same
//! ticket with the same `Idempotency-Key`, which the receiver recognises. A
//! lease on each outbox row keeps two workers (or a worker and the send a
//! caller waits for, `deliver_within`) from sending one ticket at once.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use rand::Rng;
use serde::Deserialize;
use sha2::Sha256;
use sqlx::Row;
use tokio::task::JoinSet;
use tracing::{info, warn};

use super::delivery_sql::SqlTicketTarget;
use super::{Db, DbError};
use crate::metrics::Outcome;

/// Where and how tickets are delivered (`[tickets.webhook]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// The CRM endpoint that receives each ticket as a JSON POST.
    pub url: String,
    /// Key of the `X-Hotline-Signature: sha256=<hex HMAC of the body>` header.
    pub secret: String,
    /// Attempts before a ticket goes to the dead letter state.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: i32,
    /// First retry delay, in milliseconds; doubles per attempt.
    #[serde(default = "default_base_backoff_ms")]
    pub base_backoff_ms: u64,
    /// Longest retry delay, in milliseconds.
    #[serde(default = "default_max_backoff_ms")]
    pub max_backoff_ms: u64,
    /// How long one POST may take, in milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// How many POSTs run at once, so that one slow ticket does not hold the rest.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// The CRM's own API instead of hotline's ticket JSON: this body, with
    /// `{number}`, `{kind}`, `{phone}`, `{customer}`, `{idempotency_key}` and
    /// `{fields.NAME}` in its strings replaced by the ticket's values.
    #[serde(default)]
    pub body: Option<serde_json::Value>,
    /// The method of the CRM's API, POST by default.
    #[serde(default)]
    pub method: Option<String>,
    /// Extra headers; `${NAME}` is the environment variable `NAME` (for secrets).
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    /// The JSON pointer of the CRM's ticket number in its answer, stored with the ticket.
    #[serde(default)]
    pub number_from: Option<String>,
}

pub(crate) fn default_max_attempts() -> i32 {
    10
}
pub(crate) fn default_base_backoff_ms() -> u64 {
    2_000
}
pub(crate) fn default_max_backoff_ms() -> u64 {
    10 * 60 * 1000
}
pub(crate) fn default_timeout_ms() -> u64 {
    10_000
}
pub(crate) fn default_concurrency() -> usize {
    4
}

/// Where tickets go: the CRM's webhook or HTTP API (`[tickets.webhook]`),
/// or its SQL database (`[tickets.sql]`). Cheap to clone.
#[derive(Debug, Clone)]
pub enum Target {
    Http(Arc<WebhookSettings>),
    Sql(Arc<SqlTicketTarget>),
}

/// How often and how long a target is tried.
struct Policy {
    max_attempts: i32,
    base_backoff: Duration,
    max_backoff: Duration,
    timeout_ms: u64,
    concurrency: usize,
}

impl Target {
    /// The target the ticket settings declare, if any; `sources` are the CRM
    /// sources a SQL target may name.
    pub fn from_settings(
        webhook: Option<&WebhookSettings>,
        sql: Option<&super::delivery_sql::SqlTicketSettings>,
        sources: &[super::sources::SourceSettings],
    ) -> Result<Option<Target>, String> {
        match (webhook, sql) {
            (Some(_), Some(_)) => {
                Err("declare [tickets.webhook] or [tickets.sql], not both".into())
            }
            (Some(webhook), None) => Ok(Some(Target::Http(Arc::new(webhook.clone())))),
            (None, Some(sql)) => {
                let target = SqlTicketTarget::new(sql, sources)
                    .map_err(|problem| format!("[tickets.sql] {problem}"))?;
                Ok(Some(Target::Sql(Arc::new(target))))
            }
            (None, None) => Ok(None),
        }
    }

    fn policy(&self) -> Policy {
        match self {
            Target::Http(w) => Policy {
                max_attempts: w.max_attempts,
                base_backoff: Duration::from_millis(w.base_backoff_ms),
                max_backoff: Duration::from_millis(w.max_backoff_ms),
                timeout_ms: w.timeout_ms,
                concurrency: w.concurrency,
            },
            Target::Sql(t) => Policy {
                max_attempts: t.settings.max_attempts,
                base_backoff: Duration::from_millis(t.settings.base_backoff_ms),
                max_backoff: Duration::from_millis(t.settings.max_backoff_ms),
                timeout_ms: t.settings.timeout_ms,
                concurrency: t.settings.concurrency,
            },
        }
    }

    /// Sends one ticket; the CRM's number when its answer has one.
    async fn send(
        &self,
        client: &reqwest::Client,
        ticket: &super::tickets::Ticket,
    ) -> Result<Option<String>, String> {
        match self {
            Target::Http(webhook) => post(client, webhook, ticket).await,
            Target::Sql(sql) => sql.deliver(ticket).await,
        }
    }
}

/// The delay before retry number `attempt` (1 for the first retry): base
/// doubling per attempt, capped, with "equal jitter" (half fixed, half random)
/// so that a CRM coming back is not hit by every ticket at the same instant.
pub fn backoff(attempt: i32, base: Duration, max: Duration, rng: &mut impl Rng) -> Duration {
    let exponent = attempt.saturating_sub(1).clamp(0, 30) as u32;
    let full = base.saturating_mul(1u32 << exponent).min(max);
    let half = full / 2;
    half + half.mul_f64(rng.random::<f64>())
}

/// The signature header value of a body.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// How many outbox rows one pass takes.
const BATCH: i64 = 50;

/// How often a caller's wait looks for a CRM number the worker is fetching.
const POLL: Duration = Duration::from_millis(50);

impl Db {
    /// Sends every ticket that is due, once, up to `concurrency` at a time;
    /// returns how many were delivered.
    pub async fn deliver_due(
        &self,
        client: &reqwest::Client,
        webhook: &WebhookSettings,
    ) -> Result<usize, DbError> {
        let target = Target::Http(Arc::new(webhook.clone()));
        self.deliver_due_counted(client, &target, &Family::default())
            .await
    }

    /// [`Db::deliver_due`], counting each POST's result (`delivered`,
    /// `failed` or `dead`) into `results`.
    pub async fn deliver_due_counted(
        &self,
        client: &reqwest::Client,
        target: &Target,
        results: &Family<Outcome, Counter>,
    ) -> Result<usize, DbError> {
        let now = self.clock_ms().await?;
        let due = sqlx::query(
            "SELECT ticket_id FROM ticket_outbox
             WHERE delivered_at IS NULL AND dead = 0 AND next_attempt_at <= $1
               AND (lease_until IS NULL OR lease_until < $1)
             ORDER BY next_attempt_at LIMIT $2",
        )
        .bind(now)
        .bind(BATCH)
        .fetch_all(self.pool())
        .await?;
        let concurrency = target.policy().concurrency.max(1);
        let mut running = JoinSet::new();
        let mut pass = Pass {
            delivered: 0,
            failure: None,
            results,
        };
        for row in due {
            let ticket_id: String = row.try_get("ticket_id")?;
            if running.len() >= concurrency
                && let Some(done) = running.join_next().await
            {
                pass.count(done);
            }
            let (db, client, target) = (self.clone(), client.clone(), target.clone());
            running.spawn(async move { db.deliver_one(&client, &target, &ticket_id).await });
        }
        while let Some(done) = running.join_next().await {
            pass.count(done);
        }
        pass.finish()
    }

    /// Tickets not yet delivered and not given up on, for `/metrics`.
    pub async fn tickets_pending(&self) -> Result<u64, DbError> {
        let count: i64 = sqlx::query(
            "SELECT COUNT(*) AS pending FROM ticket_outbox WHERE delivered_at IS NULL AND dead = 0",
        )
        .fetch_one(self.pool())
        .await?
        .try_get("pending")?;
        Ok(count.max(0) as u64)
    }

    /// Delivers one just-registered ticket at once and waits at most
    /// `budget` for the CRM's number, so the caller can hear it.
    ///
    /// The attempt claims the outbox row's lease as the worker does, so the
    /// two never both send it: whichever claims first sends, and the other
    /// leaves it. The attempt is not cut off when the budget ends; it goes on,
    /// and the CRM's number is stored when it arrives. A crash while it runs
    /// leaves the lease to expire, and the worker sends the ticket again with
    /// the same idempotency key.
    pub async fn deliver_within(
        &self,
        client: &reqwest::Client,
        target: &Target,
        ticket_id: &str,
        budget: Duration,
    ) -> Option<String> {
        let deadline = tokio::time::Instant::now() + budget;
        let (db, client, target, id) = (
            self.clone(),
            client.clone(),
            target.clone(),
            ticket_id.to_owned(),
        );
        let attempt = tokio::spawn(async move { db.deliver_one(&client, &target, &id).await });
        let settled = match tokio::time::timeout_at(deadline, attempt).await {
            Err(_) => return self.crm_number_of(ticket_id).await.1,
            Ok(Ok(Ok(Some(Delivery::Delivered)))) => true,
            // Refused or unanswered: no number is coming within the budget.
            Ok(Ok(Ok(Some(_)))) | Ok(Ok(Err(_))) | Ok(Err(_)) => return None,
            // The worker claimed it first (its answer may still come in
            // time), or it was delivered before.
            Ok(Ok(Ok(None))) => false,
        };
        loop {
            let (delivered, number) = self.crm_number_of(ticket_id).await;
            if delivered || settled || tokio::time::Instant::now() >= deadline {
                return number;
            }
            tokio::time::sleep_until(deadline.min(tokio::time::Instant::now() + POLL)).await;
        }
    }

    /// Whether a ticket is delivered, and the CRM's number once stored.
    async fn crm_number_of(&self, ticket_id: &str) -> (bool, Option<String>) {
        let row = sqlx::query(
            "SELECT t.crm_number, o.delivered_at FROM tickets t
             JOIN ticket_outbox o ON o.ticket_id = t.id WHERE t.id = $1",
        )
        .bind(ticket_id)
        .fetch_optional(self.pool())
        .await;
        let Ok(Some(row)) = row else {
            return (false, None);
        };
        let delivered = matches!(row.try_get::<Option<i64>, _>("delivered_at"), Ok(Some(_)));
        (delivered, row.try_get("crm_number").ok().flatten())
    }

    async fn deliver_one(
        &self,
        client: &reqwest::Client,
        target: &Target,
        ticket_id: &str,
    ) -> Result<Option<Delivery>, DbError> {
        let policy = target.policy();
        // Leases are compared across nodes: the database's clock decides.
        let now = self.clock_ms().await?;
        let lease = now + policy.timeout_ms as i64 * 2;
        let claimed = sqlx::query(
            "UPDATE ticket_outbox SET lease_until = $1
             WHERE ticket_id = $2 AND delivered_at IS NULL AND dead = 0
               AND (lease_until IS NULL OR lease_until < $3)",
        )
        .bind(lease)
        .bind(ticket_id)
        .bind(now)
        .execute(self.pool())
        .await?;
        if claimed.rows_affected() != 1 {
            return Ok(None); // another worker has it
        }
        let Some(ticket) = self.ticket_by_id(ticket_id).await? else {
            return Ok(None);
        };
        let failure = match target.send(client, &ticket).await {
            Ok(number) => {
                if let Some(number) = number {
                    sqlx::query("UPDATE tickets SET crm_number = $1 WHERE id = $2")
                        .bind(number)
                        .bind(ticket_id)
                        .execute(self.pool())
                        .await?;
                }
                None
            }
            Err(problem) => Some(problem),
        };
        match failure {
            None => {
                sqlx::query("UPDATE ticket_outbox SET delivered_at = $1, lease_until = NULL, attempts = attempts + 1 WHERE ticket_id = $2")
                    .bind(self.clock_ms().await?)
                    .bind(ticket_id)
                    .execute(self.pool())
                    .await?;
                info!(ticket = %ticket.number, "ticket delivered to the CRM");
                Ok(Some(Delivery::Delivered))
            }
            Some(error) => {
                let attempts: i32 =
                    sqlx::query("SELECT attempts FROM ticket_outbox WHERE ticket_id = $1")
                        .bind(ticket_id)
                        .fetch_one(self.pool())
                        .await?
                        .try_get("attempts")?;
                let attempts = attempts + 1;
                let dead = attempts >= policy.max_attempts;
                let delay = backoff(
                    attempts,
                    policy.base_backoff,
                    policy.max_backoff,
                    &mut rand::rng(),
                );
                sqlx::query(
                    "UPDATE ticket_outbox SET attempts = $1, next_attempt_at = $2, lease_until = NULL,
                            last_error = $3, dead = $4 WHERE ticket_id = $5",
                )
                .bind(attempts)
                .bind(self.clock_ms().await? + delay.as_millis() as i64)
                .bind(&error)
                .bind(i32::from(dead))
                .bind(ticket_id)
                .execute(self.pool())
                .await?;
                if dead {
                    warn!(ticket = %ticket.number, attempts, %error, "ticket moved to the dead letter state");
                    Ok(Some(Delivery::Dead))
                } else {
                    warn!(ticket = %ticket.number, attempts, %error, retry_in = ?delay, "ticket delivery failed");
                    Ok(Some(Delivery::Failed))
                }
            }
        }
    }
}

/// How one POST of a ticket went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    Delivered,
    /// Refused or unanswered; tried again after a backoff.
    Failed,
    /// Failed for the last allowed time: moved to the dead letter state.
    Dead,
}

/// POSTs one ticket (or sends it by the CRM's own API template); the CRM's
/// number when `number_from` names one in its answer.
async fn post(
    client: &reqwest::Client,
    webhook: &WebhookSettings,
    ticket: &super::tickets::Ticket,
) -> Result<Option<String>, String> {
    let body = match &webhook.body {
        Some(template) => {
            let filled = crate::crm::sources::http::fill_json(template, &ticket_values(ticket));
            serde_json::to_vec(&filled).unwrap_or_default()
        }
        None => serde_json::to_vec(ticket).unwrap_or_default(),
    };
    let request = request(client, webhook, &ticket.idempotency_key, body)?;
    match request.send().await {
        Ok(response) if response.status().is_success() => Ok(crm_number(webhook, response).await),
        Ok(response) => Err(format!("HTTP {}", response.status())),
        Err(error) => Err(describe(&error, webhook.timeout_ms)),
    }
}

/// The request that delivers one ticket: signed, with its idempotency key,
/// so a re-sent ticket is recognised by the CRM.
fn request(
    client: &reqwest::Client,
    webhook: &WebhookSettings,
    idempotency_key: &str,
    body: Vec<u8>,
) -> Result<reqwest::RequestBuilder, String> {
    let method = crate::crm::sources::http::method(webhook.method.as_deref(), "POST")?;
    let mut request = client
        .request(method, &webhook.url)
        .timeout(Duration::from_millis(webhook.timeout_ms))
        .header("Content-Type", "application/json")
        .header("Idempotency-Key", idempotency_key)
        .header("X-Hotline-Signature", signature(&webhook.secret, &body));
    for (name, template) in &webhook.headers {
        let (name, value) = crate::crm::sources::http::secret_header(name, template)?;
        request = request.header(name, value);
    }
    Ok(request.body(body))
}

/// The values a body template or an SQL target's `params` may name.
pub(crate) fn ticket_values(ticket: &super::tickets::Ticket) -> crate::flow::Values {
    use crate::flow::Value;
    let mut values = crate::flow::Values::new();
    let text = |s: &str| Value::Text(s.to_owned());
    values.insert("number".into(), text(&ticket.number));
    values.insert("kind".into(), text(&ticket.kind));
    values.insert("phone".into(), text(&ticket.phone));
    values.insert("idempotency_key".into(), text(&ticket.idempotency_key));
    values.insert(
        "customer".into(),
        text(ticket.customer_id.as_deref().unwrap_or_default()),
    );
    for (name, value) in &ticket.fields {
        values.insert(format!("fields.{name}"), text(value));
    }
    values
}

/// The CRM's ticket number in its answer, when `number_from` names one. The
/// ticket is delivered either way; an answer without it is logged by the field.
async fn crm_number(webhook: &WebhookSettings, response: reqwest::Response) -> Option<String> {
    let pointer = webhook.number_from.as_deref()?;
    // A ticket number sits in a small answer; a larger one is not read whole.
    const LIMIT: usize = 64 * 1024;
    let body = response.bytes().await.ok()?;
    let json: Option<serde_json::Value> = (body.len() <= LIMIT)
        .then(|| serde_json::from_slice(&body).ok())
        .flatten();
    let number = match json.as_ref().and_then(|j| j.pointer(pointer)) {
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    if number.is_none() {
        warn!(
            field = pointer,
            "the CRM's answer has no ticket number at this field"
        );
    }
    number
}

/// The tally of one delivery pass: tickets delivered, and the first database
/// failure (reported after every POST in flight has finished).
struct Pass<'a> {
    delivered: usize,
    failure: Option<DbError>,
    results: &'a Family<Outcome, Counter>,
}

impl Pass<'_> {
    fn count(&mut self, done: Result<Result<Option<Delivery>, DbError>, tokio::task::JoinError>) {
        if let Ok(Ok(Some(delivery))) = &done {
            let outcome = match delivery {
                Delivery::Delivered => "delivered",
                Delivery::Failed => "failed",
                Delivery::Dead => "dead",
            };
            self.results.get_or_create(&Outcome { outcome }).inc();
        }
        match done {
            Ok(Ok(Some(Delivery::Delivered))) => self.delivered += 1,
            Ok(Ok(_)) => {}
            Ok(Err(error)) => {
                self.failure.get_or_insert(error);
            }
            Err(error) => warn!(%error, "a ticket delivery task failed"),
        }
    }

    fn finish(self) -> Result<usize, DbError> {
        match self.failure {
            Some(error) => Err(error),
            None => Ok(self.delivered),
        }
    }
}

/// What went wrong with a POST, in the words an admin needs: a timeout, a
/// refused connection, or the transport's own description.
fn describe(error: &reqwest::Error, timeout_ms: u64) -> String {
    if error.is_timeout() {
        return format!("timeout: no answer within {timeout_ms} ms");
    }
    let refused = std::iter::successors(std::error::Error::source(error), |e| e.source())
        .filter_map(|e| e.downcast_ref::<std::io::Error>())
        .any(|e| e.kind() == std::io::ErrorKind::ConnectionRefused);
    if refused {
        "connection refused".to_owned()
    } else if error.is_connect() {
        format!("connection failed: {error}")
    } else {
        error.to_string()
    }
}

/// Delivers due tickets every `interval` until `stop` fires.
pub async fn run_worker(
    db: Db,
    target: Target,
    interval: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
    results: Family<Outcome, Counter>,
) {
    let client = reqwest::Client::new();
    loop {
        if let Err(error) = db.deliver_due_counted(&client, &target, &results).await {
            warn!(%error, "ticket delivery pass failed; will retry");
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_stops_at_the_cap() {
        let mut rng = StdRng::seed_from_u64(1);
        let base = Duration::from_secs(2);
        let max = Duration::from_secs(60);
        for (attempt, full) in [(1, 2), (2, 4), (3, 8), (4, 16), (5, 32), (6, 60), (20, 60)] {
            let full = Duration::from_secs(full);
            for _ in 0..50 {
                let delay = backoff(attempt, base, max, &mut rng);
                assert!(
                    delay >= full / 2 && delay <= full,
                    "attempt {attempt}: {delay:?}"
                );
            }
        }
    }

    /// The error text recorded for a POST to `url` that fails.
    async fn failure_of(url: String) -> String {
        let error = reqwest::Client::new()
            .post(url)
            .timeout(Duration::from_millis(300))
            .send()
            .await
            .expect_err("the POST fails");
        describe(&error, 300)
    }

    #[tokio::test]
    async fn a_crm_that_never_answers_is_recorded_as_a_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/tickets", listener.local_addr().unwrap());
        // Accepts the connection and says nothing.
        let _held = tokio::spawn(async move { listener.accept().await });
        assert_eq!(failure_of(url).await, "timeout: no answer within 300 ms");
    }

    #[tokio::test]
    async fn a_crm_that_is_not_listening_is_recorded_as_refused() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/tickets", listener.local_addr().unwrap());
        drop(listener);
        assert_eq!(failure_of(url).await, "connection refused");
    }

    #[test]
    fn signature_is_hmac_sha256_of_the_body() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}

//! Delivering registered tickets to the CRM's webhook, from the outbox.
//!
//! At-least-once delivery with a stable idempotency key gives the receiver an
//! exactly-once effect: a ticket counts as delivered only after its 2xx is
//! recorded, so a crash between the POST and that record re-sends the same
//! ticket with the same `Idempotency-Key`, which the receiver recognises. A
//! lease on each outbox row keeps two workers from sending one ticket at once.

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

use super::{Db, DbError, now_ms};
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
}

fn default_max_attempts() -> i32 {
    10
}
fn default_base_backoff_ms() -> u64 {
    2_000
}
fn default_max_backoff_ms() -> u64 {
    10 * 60 * 1000
}
fn default_timeout_ms() -> u64 {
    10_000
}
fn default_concurrency() -> usize {
    4
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

impl Db {
    /// Sends every ticket that is due, once, up to `concurrency` at a time;
    /// returns how many were delivered.
    pub async fn deliver_due(
        &self,
        client: &reqwest::Client,
        webhook: &WebhookSettings,
    ) -> Result<usize, DbError> {
        self.deliver_due_counted(client, webhook, &Family::default())
            .await
    }

    /// [`Db::deliver_due`], counting each POST's result (`delivered`,
    /// `failed` or `dead`) into `results`.
    pub async fn deliver_due_counted(
        &self,
        client: &reqwest::Client,
        webhook: &WebhookSettings,
        results: &Family<Outcome, Counter>,
    ) -> Result<usize, DbError> {
        let now = now_ms();
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
        let webhook = Arc::new(webhook.clone());
        let mut running = JoinSet::new();
        let mut pass = Pass {
            delivered: 0,
            failure: None,
            results,
        };
        for row in due {
            let ticket_id: String = row.try_get("ticket_id")?;
            if running.len() >= webhook.concurrency.max(1)
                && let Some(done) = running.join_next().await
            {
                pass.count(done);
            }
            let (db, client, webhook) = (self.clone(), client.clone(), Arc::clone(&webhook));
            running.spawn(async move { db.deliver_one(&client, &webhook, &ticket_id).await });
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

    async fn deliver_one(
        &self,
        client: &reqwest::Client,
        webhook: &WebhookSettings,
        ticket_id: &str,
    ) -> Result<Option<Delivery>, DbError> {
        let now = now_ms();
        let lease = now + webhook.timeout_ms as i64 * 2;
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
        let body = serde_json::to_vec(&ticket).unwrap_or_default();
        let result = client
            .post(&webhook.url)
            .timeout(Duration::from_millis(webhook.timeout_ms))
            .header("Content-Type", "application/json")
            .header("Idempotency-Key", &ticket.idempotency_key)
            .header("X-Hotline-Signature", signature(&webhook.secret, &body))
            .body(body)
            .send()
            .await;
        let failure = match result {
            Ok(response) if response.status().is_success() => None,
            Ok(response) => Some(format!("HTTP {}", response.status())),
            Err(error) => Some(describe(&error, webhook.timeout_ms)),
        };
        match failure {
            None => {
                sqlx::query("UPDATE ticket_outbox SET delivered_at = $1, lease_until = NULL, attempts = attempts + 1 WHERE ticket_id = $2")
                    .bind(now_ms())
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
                let dead = attempts >= webhook.max_attempts;
                let delay = backoff(
                    attempts,
                    Duration::from_millis(webhook.base_backoff_ms),
                    Duration::from_millis(webhook.max_backoff_ms),
                    &mut rand::rng(),
                );
                sqlx::query(
                    "UPDATE ticket_outbox SET attempts = $1, next_attempt_at = $2, lease_until = NULL,
                            last_error = $3, dead = $4 WHERE ticket_id = $5",
                )
                .bind(attempts)
                .bind(now_ms() + delay.as_millis() as i64)
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
    webhook: WebhookSettings,
    interval: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
    results: Family<Outcome, Counter>,
) {
    let client = reqwest::Client::new();
    loop {
        if let Err(error) = db.deliver_due_counted(&client, &webhook, &results).await {
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

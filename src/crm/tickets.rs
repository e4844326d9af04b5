//! Tickets the IVR registers by itself: typed, validated, and exactly once.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::{Db, DbError, new_id, now_ms};

/// A type of request the IVR may register, declared in configuration.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TicketType {
    /// e.g. `line_repair`.
    pub name: String,
    /// Fields a ticket of this type must carry.
    #[serde(default)]
    pub fields: Vec<String>,
    /// 1 is the most urgent.
    #[serde(default = "default_priority")]
    pub priority: i32,
    /// The deadline for handling it, in minutes after registration (SLA).
    pub sla_minutes: i64,
    /// How long the caller waits, in milliseconds, for the CRM's own ticket
    /// number after the ticket is registered: the delivery is tried at once
    /// and, when the CRM answers within this wait (and within the flow's own
    /// timeout), the caller hears the CRM's number. 0 (the default): the
    /// caller hears hotline's number and the outbox delivers the ticket.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub crm_wait_ms: u64,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

fn default_priority() -> i32 {
    3
}

/// The demo request types: a line repair, a meter reading, a callback.
pub fn demo_ticket_types() -> Vec<TicketType> {
    vec![
        TicketType {
            name: "line_repair".into(),
            fields: vec![],
            priority: 2,
            sla_minutes: 48 * 60,
            crm_wait_ms: 0,
        },
        TicketType {
            name: "meter_reading".into(),
            fields: vec!["reading".into()],
            priority: 4,
            sla_minutes: 24 * 60,
            crm_wait_ms: 0,
        },
        TicketType {
            name: "callback".into(),
            fields: vec!["callback_number".into()],
            priority: 2,
            sla_minutes: 4 * 60,
            crm_wait_ms: 0,
        },
    ]
}

/// A request to register.
#[derive(Debug, Clone)]
pub struct NewTicket {
    /// hotline's own id of the call that asks (never the SIP Call-ID, which
    /// the caller chooses); with `kind` it makes the idempotency key.
    pub call_id: String,
    pub kind: String,
    pub customer_id: Option<String>,
    pub phone: String,
    pub fields: BTreeMap<String, String>,
}

/// A registered ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ticket {
    pub id: String,
    /// Human-readable, read back to the caller: `T-000042`.
    pub number: String,
    pub kind: String,
    pub idempotency_key: String,
    pub customer_id: Option<String>,
    pub phone: String,
    pub fields: BTreeMap<String, String>,
    pub priority: i32,
    pub status: String,
    pub due_at: i64,
    pub created_at: i64,
    /// The CRM's own number, once its API gave one on delivery.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crm_number: Option<String>,
}

/// Why a ticket was not registered.
#[derive(Debug, thiserror::Error)]
pub enum TicketError {
    /// The flow asked for a type the configuration does not declare.
    #[error("unknown ticket type `{0}`")]
    UnknownType(String),
    /// A declared field has no value.
    #[error("ticket type `{kind}` needs field `{field}`")]
    MissingField { kind: String, field: String },
    /// The CRM refuses the request; `reason` is a code a flow can branch on.
    #[error("ticket refused: {reason}")]
    Rejected { reason: &'static str },
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for TicketError {
    fn from(error: sqlx::Error) -> Self {
        TicketError::Db(DbError::Unavailable(error))
    }
}

impl Db {
    /// Registers a ticket exactly once per call and type: a repeated or
    /// concurrent request returns the ticket the first one made.
    pub async fn register_ticket(
        &self,
        request: &NewTicket,
        types: &[TicketType],
    ) -> Result<Ticket, TicketError> {
        let kind = types
            .iter()
            .find(|t| t.name == request.kind)
            .ok_or_else(|| TicketError::UnknownType(request.kind.clone()))?;
        for field in &kind.fields {
            if request
                .fields
                .get(field)
                .is_none_or(|v| v.trim().is_empty())
            {
                return Err(TicketError::MissingField {
                    kind: kind.name.clone(),
                    field: field.clone(),
                });
            }
        }
        let key = format!("{}:{}", request.call_id, request.kind);
        if let Some(existing) = self.ticket_by_key(&key).await? {
            return Ok(existing);
        }
        match self.insert_ticket(request, kind, &key).await {
            Ok(ticket) => Ok(ticket),
            // A concurrent request of the same call and type won the race: its ticket is ours.
            Err(TicketError::Db(DbError::Unavailable(sqlx::Error::Database(e))))
                if e.is_unique_violation() =>
            {
                self.ticket_by_key(&key)
                    .await?
                    .ok_or(TicketError::Db(DbError::Unavailable(
                        sqlx::Error::Database(e),
                    )))
            }
            Err(other) => Err(other),
        }
    }

    async fn insert_ticket(
        &self,
        request: &NewTicket,
        kind: &TicketType,
        key: &str,
    ) -> Result<Ticket, TicketError> {
        let mut tx = self.begin_write().await?;
        if kind.name == "meter_reading" {
            record_reading(&mut tx, request).await?;
        }
        // Taken last before the writes, so the counter row stays locked only briefly.
        let seq: i64 = sqlx::query(
            "UPDATE ticket_numbers SET next_seq = next_seq + 1 WHERE id = 1 RETURNING next_seq - 1 AS seq",
        )
        .fetch_one(&mut *tx)
        .await?
        .try_get("seq")?;
        let now = now_ms();
        let ticket = Ticket {
            id: new_id(),
            number: format!("T-{seq:06}"),
            kind: kind.name.clone(),
            idempotency_key: key.to_owned(),
            customer_id: request.customer_id.clone(),
            phone: request.phone.clone(),
            fields: request.fields.clone(),
            priority: kind.priority,
            status: "new".into(),
            due_at: now + kind.sla_minutes * 60_000,
            created_at: now,
            crm_number: None,
        };
        let fields = serde_json::to_string(&ticket.fields).unwrap_or_else(|_| "{}".into());
        sqlx::query(
            "INSERT INTO tickets (id, seq, number, kind, idempotency_key, customer_id, phone, fields,
                                  priority, status, due_at, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(&ticket.id)
        .bind(seq)
        .bind(&ticket.number)
        .bind(&ticket.kind)
        .bind(&ticket.idempotency_key)
        .bind(ticket.customer_id.clone())
        .bind(&ticket.phone)
        .bind(fields)
        .bind(ticket.priority)
        .bind(&ticket.status)
        .bind(ticket.due_at)
        .bind(ticket.created_at)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO ticket_outbox (ticket_id, attempts, next_attempt_at, lease_until, last_error, delivered_at, dead)
             VALUES ($1, 0, $2, NULL, NULL, NULL, 0)",
        )
        .bind(&ticket.id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(ticket)
    }

    async fn ticket_by_key(&self, key: &str) -> Result<Option<Ticket>, TicketError> {
        let row = sqlx::query(&format!("{TICKET_COLUMNS} WHERE idempotency_key = $1"))
            .bind(key)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|row| ticket(&row)).transpose()?)
    }

    /// A ticket by its id.
    pub(crate) async fn ticket_by_id(&self, id: &str) -> Result<Option<Ticket>, DbError> {
        let row = sqlx::query(&format!("{TICKET_COLUMNS} WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|row| ticket(&row)).transpose()?)
    }

    /// Every ticket, newest first, with its delivery state.
    pub async fn list_tickets(&self, limit: i64) -> Result<Vec<TicketWithDelivery>, DbError> {
        let rows = sqlx::query(
            "SELECT t.id, t.number, t.kind, t.idempotency_key, t.customer_id, t.phone, t.fields, t.priority,
                    t.status, t.due_at, t.created_at, t.crm_number, o.attempts, o.delivered_at, o.dead, o.last_error
             FROM tickets t JOIN ticket_outbox o ON o.ticket_id = t.id
             ORDER BY t.seq DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let delivery = match (
                    row.try_get::<Option<i64>, _>("delivered_at")?,
                    row.try_get::<i32, _>("dead")?,
                ) {
                    (Some(_), _) => "delivered",
                    (None, 0) => "pending",
                    (None, _) => "dead_letter",
                };
                Ok(TicketWithDelivery {
                    ticket: ticket(row)?,
                    delivery,
                    attempts: row.try_get("attempts")?,
                    last_error: row.try_get("last_error")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(DbError::from)
    }
}

/// A ticket as listed for admins.
#[derive(Debug, Clone, Serialize)]
pub struct TicketWithDelivery {
    #[serde(flatten)]
    pub ticket: Ticket,
    /// `pending`, `delivered` or `dead_letter`.
    pub delivery: &'static str,
    pub attempts: i32,
    pub last_error: Option<String>,
}

const TICKET_COLUMNS: &str =
    "SELECT id, number, kind, idempotency_key, customer_id, phone, fields, priority,
                                     status, due_at, created_at, crm_number FROM tickets";

fn ticket(row: &sqlx::any::AnyRow) -> Result<Ticket, sqlx::Error> {
    let fields: String = row.try_get("fields")?;
    Ok(Ticket {
        id: row.try_get("id")?,
        number: row.try_get("number")?,
        kind: row.try_get("kind")?,
        idempotency_key: row.try_get("idempotency_key")?,
        customer_id: row.try_get("customer_id")?,
        phone: row.try_get("phone")?,
        fields: serde_json::from_str(&fields).unwrap_or_default(),
        priority: row.try_get("priority")?,
        status: row.try_get("status")?,
        due_at: row.try_get("due_at")?,
        created_at: row.try_get("created_at")?,
        crm_number: row.try_get("crm_number")?,
    })
}

/// A meter reading must be a whole number not below the last one; it joins the history.
async fn record_reading(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    request: &NewTicket,
) -> Result<(), TicketError> {
    let reading: i64 = request
        .fields
        .get("reading")
        .and_then(|r| r.trim().parse().ok())
        .ok_or(TicketError::Rejected {
            reason: "reading_not_a_number",
        })?;
    let customer = request
        .customer_id
        .as_deref()
        .ok_or(TicketError::Rejected {
            reason: "caller_unknown",
        })?;
    let meter =
        sqlx::query("SELECT id FROM meter_points WHERE customer_id = $1 ORDER BY id LIMIT 1")
            .bind(customer)
            .fetch_optional(&mut **tx)
            .await?
            .ok_or(TicketError::Rejected { reason: "no_meter" })?;
    let meter: String = meter.try_get("id")?;
    let last = sqlx::query(
        "SELECT reading FROM meter_readings WHERE meter_id = $1 ORDER BY taken_at DESC LIMIT 1",
    )
    .bind(&meter)
    .fetch_optional(&mut **tx)
    .await?
    .map(|row| row.try_get::<i64, _>("reading"))
    .transpose()?;
    if last.is_some_and(|last| reading < last) {
        return Err(TicketError::Rejected {
            reason: "reading_below_last",
        });
    }
    sqlx::query(
        "INSERT INTO meter_readings (id, meter_id, reading, taken_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(new_id())
    .bind(&meter)
    .bind(reading)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

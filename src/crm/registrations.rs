//! Agents' registered phones, copied from the registrar so that a restart
//! can ring them at once.

use sqlx::Row;

use super::{Db, DbError, new_id};

/// One binding as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoredRegistration {
    pub login: String,
    /// The Contact as the phone gave it, without `expires`.
    pub contact: String,
    /// `IP:port` the REGISTER came from.
    pub source: String,
    /// `UDP`, `TCP`, or `WS` for a browser (then with a Path naming the
    /// node its WebSocket is open on, when that node is in a cluster).
    pub transport: String,
    pub call_id: String,
    pub cseq: i64,
    pub user_agent: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub expires_at: i64,
    /// The REGISTER's Path (RFC 3327), as a header value lists it.
    pub path: Option<String>,
}

impl Db {
    /// Replaces the stored bindings of an agent (none when it un-registered).
    pub async fn store_registrations(
        &self,
        login: &str,
        registrations: &[StoredRegistration],
    ) -> Result<(), DbError> {
        self.store_node_registrations(login, "", registrations)
            .await
    }

    /// Replaces the bindings of an agent that `node` keeps, leaving those
    /// other nodes of a cluster keep (a browser on one node, a desk phone on
    /// the ACD's).
    pub async fn store_node_registrations(
        &self,
        login: &str,
        node: &str,
        registrations: &[StoredRegistration],
    ) -> Result<(), DbError> {
        let mut tx = self.begin_write().await?;
        let Some(agent) = sqlx::query("SELECT id FROM agents WHERE login = $1")
            .bind(login)
            .fetch_optional(&mut *tx)
            .await?
        else {
            // The agent was removed while registered: nothing to keep.
            return Ok(());
        };
        let agent_id: String = agent.try_get("id")?;
        sqlx::query("DELETE FROM agent_registrations WHERE agent_id = $1 AND node = $2")
            .bind(&agent_id)
            .bind(node)
            .execute(&mut *tx)
            .await?;
        for registration in registrations {
            sqlx::query(
                "INSERT INTO agent_registrations
                     (id, agent_id, contact, source, transport, call_id, cseq, user_agent, expires_at,
                      path, node)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(new_id())
            .bind(&agent_id)
            .bind(&registration.contact)
            .bind(&registration.source)
            .bind(&registration.transport)
            .bind(&registration.call_id)
            .bind(registration.cseq)
            .bind(registration.user_agent.clone())
            .bind(registration.expires_at)
            .bind(registration.path.clone())
            .bind(node)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Bindings still valid at `now_ms`, by login; expired ones are deleted.
    pub async fn live_registrations(
        &self,
        now_ms: i64,
    ) -> Result<Vec<StoredRegistration>, DbError> {
        sqlx::query("DELETE FROM agent_registrations WHERE expires_at <= $1")
            .bind(now_ms)
            .execute(self.pool())
            .await?;
        let rows = sqlx::query(
            "SELECT a.login, r.contact, r.source, r.transport, r.call_id, r.cseq, r.user_agent,
                    r.expires_at, r.path
             FROM agent_registrations r JOIN agents a ON a.id = r.agent_id
             ORDER BY a.login, r.expires_at",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(StoredRegistration {
                    login: row.try_get("login")?,
                    contact: row.try_get("contact")?,
                    source: row.try_get("source")?,
                    transport: row.try_get("transport")?,
                    call_id: row.try_get("call_id")?,
                    cseq: row.try_get("cseq")?,
                    user_agent: row.try_get("user_agent")?,
                    expires_at: row.try_get("expires_at")?,
                    path: row.try_get("path")?,
                })
            })
            .collect()
    }
}

//! The `flow_versions` table: each publication of a flow with its source,
//! who published it and when. Rows are only ever added, so an earlier
//! version can always be shown and published again.

use sqlx::Row;

use crate::crm::{Db, DbError, new_id, now_ms};

/// One publication of a flow.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Publication {
    /// The version id: file name and the start of the source's SHA-256.
    pub version: String,
    /// The token name of the admin who published it, or `flows directory`
    /// for a file deployed next to the server.
    pub published_by: String,
    /// Milliseconds since the Unix epoch.
    pub published_at: i64,
}

/// Who published a version the watcher took from the flows directory.
pub const FROM_DIRECTORY: &str = "flows directory";

/// Records that `version` of `flow` was published by `by`.
pub async fn record(
    db: &Db,
    flow: &str,
    version: &str,
    source: &str,
    by: &str,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO flow_versions (id, flow_id, version, source, published_by, published_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(new_id())
    .bind(flow)
    .bind(version)
    .bind(source)
    .bind(by)
    .bind(now_ms())
    .execute(db.pool())
    .await?;
    Ok(())
}

/// The publications of `flow`, newest first.
pub async fn history(db: &Db, flow: &str) -> Result<Vec<Publication>, DbError> {
    let rows = sqlx::query(
        "SELECT version, published_by, published_at FROM flow_versions
         WHERE flow_id = $1 ORDER BY published_at DESC, id",
    )
    .bind(flow)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Publication {
                version: row.try_get("version")?,
                published_by: row.try_get("published_by")?,
                published_at: row.try_get("published_at")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(DbError::from)
}

/// The source of a stored version of `flow`, if it was ever published.
pub async fn source(db: &Db, flow: &str, version: &str) -> Result<Option<String>, DbError> {
    let row =
        sqlx::query("SELECT source FROM flow_versions WHERE flow_id = $1 AND version = $2 LIMIT 1")
            .bind(flow)
            .bind(version)
            .fetch_optional(db.pool())
            .await?;
    Ok(match row {
        Some(row) => Some(row.try_get("source")?),
        None => None,
    })
}

//! The `api_tokens` table: tokens by name, role and hash; never the token itself.

use sqlx::Row;

use super::role::Role;
use super::token::{self, TokenHash};
use crate::crm::{Db, DbError, new_id, now_ms};

/// A token as listed: no secret, not even its hash.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ListedToken {
    pub name: String,
    /// `monitor`, `supervisor` or `admin`.
    pub role: String,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// A token the server accepts.
#[derive(Debug, Clone)]
pub struct ActiveToken {
    pub name: String,
    pub role: Role,
    pub hash: TokenHash,
}

/// Why a token command failed.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("a token named `{0}` exists already (names stay taken after revocation)")]
    NameTaken(String),
    #[error("no token named `{0}`, or it is revoked already")]
    NotFound(String),
    #[error("the token name must be 1 to 64 letters, digits, `-`, `_` or `.`")]
    BadName,
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Makes a token; returns the secret, which is not stored and cannot be shown again.
pub async fn add(db: &Db, name: &str, role: Role) -> Result<String, TokenError> {
    let valid = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
    if name.is_empty() || name.len() > 64 || !name.chars().all(valid) {
        return Err(TokenError::BadName);
    }
    let taken = sqlx::query("SELECT 1 FROM api_tokens WHERE name = $1")
        .bind(name)
        .fetch_optional(db.pool())
        .await
        .map_err(DbError::from)?;
    if taken.is_some() {
        return Err(TokenError::NameTaken(name.to_owned()));
    }
    let secret = token::generate();
    sqlx::query(
        "INSERT INTO api_tokens (id, name, role, token_sha256, created_at, revoked_at)
         VALUES ($1, $2, $3, $4, $5, NULL)",
    )
    .bind(new_id())
    .bind(name)
    .bind(role.as_str())
    .bind(TokenHash::of(&secret).to_hex())
    .bind(now_ms())
    .execute(db.pool())
    .await
    .map_err(DbError::from)?;
    Ok(secret)
}

/// Every token ever made, oldest first.
pub async fn list(db: &Db) -> Result<Vec<ListedToken>, DbError> {
    let rows = sqlx::query(
        "SELECT name, role, created_at, revoked_at FROM api_tokens ORDER BY created_at, name",
    )
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(ListedToken {
                name: row.try_get("name")?,
                role: row.try_get("role")?,
                created_at: row.try_get("created_at")?,
                revoked_at: row.try_get("revoked_at")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(DbError::from)
}

/// Revokes a token; running servers stop accepting it within their refresh interval.
pub async fn revoke(db: &Db, name: &str) -> Result<(), TokenError> {
    let done =
        sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL")
            .bind(now_ms())
            .bind(name)
            .execute(db.pool())
            .await
            .map_err(DbError::from)?;
    if done.rows_affected() == 0 {
        return Err(TokenError::NotFound(name.to_owned()));
    }
    Ok(())
}

/// The tokens not revoked. A row with an unknown role or a damaged hash is
/// skipped: it grants nothing.
pub async fn active(db: &Db) -> Result<Vec<ActiveToken>, DbError> {
    let rows =
        sqlx::query("SELECT name, role, token_sha256 FROM api_tokens WHERE revoked_at IS NULL")
            .fetch_all(db.pool())
            .await?;
    let mut tokens = Vec::with_capacity(rows.len());
    for row in &rows {
        let name: String = row.try_get("name")?;
        let role: String = row.try_get("role")?;
        let hash: String = row.try_get("token_sha256")?;
        match (Role::parse(&role), TokenHash::from_hex(&hash)) {
            (Some(role), Some(hash)) => tokens.push(ActiveToken { name, role, hash }),
            _ => tracing::warn!(token = %name, "API token row unreadable; it grants nothing"),
        }
    }
    Ok(tokens)
}

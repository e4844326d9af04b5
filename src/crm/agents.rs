//! Agents: who takes the calls the IVR hands over, their skills, and the
//! digest secrets their phones register with.

use std::collections::HashMap;
use std::time::Duration;

use sqlx::Row;

use super::{Db, DbError, new_id, now_ms, within};
use crate::registrar::AgentCredentials;
use crate::sip::digest::{Algorithm, ha1};

/// An agent as admins and the queue see them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Agent {
    pub id: String,
    /// The SIP user name the agent's phones register with.
    pub login: String,
    pub display_name: String,
    pub skills: Vec<Skill>,
    /// RFC 3339.
    pub created_at: String,
}

/// A skill of an agent with its level, e.g. `first_line=1`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Skill {
    pub skill: String,
    pub level: i32,
}

/// An agent to add.
#[derive(Debug, Clone)]
pub struct NewAgent {
    pub login: String,
    pub display_name: String,
    /// In clear; only its HA1 values are stored.
    pub password: String,
    pub skills: Vec<Skill>,
}

/// Why an agent could not be added or changed.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("invalid login `{0}`: use 1 to 64 letters, digits, `.`, `_` or `-`")]
    InvalidLogin(String),
    #[error("invalid skill `{0}`: use NAME=LEVEL with a lower-case name and a level 0 to 100")]
    InvalidSkill(String),
    #[error("the password must not be empty")]
    EmptyPassword,
    #[error("an agent with login `{0}` exists already")]
    Exists(String),
    #[error("no agent with login `{0}`")]
    NotFound(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for AgentError {
    fn from(error: sqlx::Error) -> Self {
        AgentError::Db(DbError::Unavailable(error))
    }
}

impl std::str::FromStr for Skill {
    type Err = AgentError;

    /// Reads `NAME=LEVEL`.
    fn from_str(text: &str) -> Result<Skill, AgentError> {
        let invalid = || AgentError::InvalidSkill(text.to_owned());
        let (skill, level) = text.split_once('=').ok_or_else(invalid)?;
        let level: i32 = level.trim().parse().map_err(|_| invalid())?;
        let skill = skill.trim();
        let name_ok = !skill.is_empty()
            && skill.len() <= 64
            && skill
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !name_ok || !(0..=100).contains(&level) {
            return Err(invalid());
        }
        Ok(Skill {
            skill: skill.to_owned(),
            level,
        })
    }
}

impl Db {
    /// Adds an agent whose password is valid for `realm`.
    pub async fn add_agent(&self, agent: &NewAgent, realm: &str) -> Result<Agent, AgentError> {
        check_login(&agent.login)?;
        if agent.password.is_empty() {
            return Err(AgentError::EmptyPassword);
        }
        let mut tx = self.begin_write().await?;
        let exists = sqlx::query("SELECT id FROM agents WHERE login = $1")
            .bind(&agent.login)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_some() {
            return Err(AgentError::Exists(agent.login.clone()));
        }
        let id = new_id();
        let now = now_ms();
        let (md5, sha256) = secrets(&agent.login, realm, &agent.password);
        let inserted = sqlx::query(
            "INSERT INTO agents (id, login, display_name, realm, ha1_md5, ha1_sha256, created_at, password_set_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        )
        .bind(&id)
        .bind(&agent.login)
        .bind(&agent.display_name)
        .bind(realm)
        .bind(md5)
        .bind(sha256)
        .bind(now)
        .execute(&mut *tx)
        .await;
        match inserted {
            // A concurrent add of the same login won.
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(AgentError::Exists(agent.login.clone()));
            }
            other => other?,
        };
        insert_skills(&mut tx, &id, &agent.skills).await?;
        tx.commit().await?;
        let mut skills = agent.skills.clone();
        skills.sort_by(|a, b| a.skill.cmp(&b.skill));
        Ok(Agent {
            id,
            login: agent.login.clone(),
            display_name: agent.display_name.clone(),
            skills,
            created_at: super::calls::time(now),
        })
    }

    /// Sets an agent's password for `realm`; registered phones stay registered.
    pub async fn set_agent_password(
        &self,
        login: &str,
        realm: &str,
        password: &str,
    ) -> Result<(), AgentError> {
        if password.is_empty() {
            return Err(AgentError::EmptyPassword);
        }
        let (md5, sha256) = secrets(login, realm, password);
        let updated = sqlx::query(
            "UPDATE agents SET realm = $1, ha1_md5 = $2, ha1_sha256 = $3, password_set_at = $4
             WHERE login = $5",
        )
        .bind(realm)
        .bind(md5)
        .bind(sha256)
        .bind(now_ms())
        .bind(login)
        .execute(self.pool())
        .await?;
        if updated.rows_affected() == 0 {
            return Err(AgentError::NotFound(login.to_owned()));
        }
        Ok(())
    }

    /// Replaces an agent's skills.
    pub async fn set_agent_skills(&self, login: &str, skills: &[Skill]) -> Result<(), AgentError> {
        let mut tx = self.begin_write().await?;
        let id: String = sqlx::query("SELECT id FROM agents WHERE login = $1")
            .bind(login)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| AgentError::NotFound(login.to_owned()))?
            .try_get("id")?;
        sqlx::query("DELETE FROM agent_skills WHERE agent_id = $1")
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        insert_skills(&mut tx, &id, skills).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every agent with their skills (by name), by login.
    pub async fn list_agents(&self) -> Result<Vec<Agent>, DbError> {
        let rows =
            sqlx::query("SELECT id, login, display_name, created_at FROM agents ORDER BY login")
                .fetch_all(self.pool())
                .await?;
        let mut skills: HashMap<String, Vec<Skill>> = HashMap::new();
        let skill_rows =
            sqlx::query("SELECT agent_id, skill, level FROM agent_skills ORDER BY skill")
                .fetch_all(self.pool())
                .await?;
        for row in skill_rows {
            skills
                .entry(row.try_get("agent_id")?)
                .or_default()
                .push(Skill {
                    skill: row.try_get("skill")?,
                    level: row.try_get("level")?,
                });
        }
        rows.iter()
            .map(|row| {
                let id: String = row.try_get("id")?;
                Ok(Agent {
                    skills: skills.remove(&id).unwrap_or_default(),
                    id,
                    login: row.try_get("login")?,
                    display_name: row.try_get("display_name")?,
                    created_at: super::calls::time(row.try_get("created_at")?),
                })
            })
            .collect()
    }

    /// The agent with this login.
    pub async fn find_agent(&self, login: &str) -> Result<Option<Agent>, DbError> {
        Ok(self
            .list_agents()
            .await?
            .into_iter()
            .find(|a| a.login == login))
    }

    /// What the registrar checks an agent's phones against.
    pub async fn agent_credentials(
        &self,
        login: &str,
        limit: Duration,
    ) -> Result<Option<AgentCredentials>, DbError> {
        let query =
            sqlx::query("SELECT login, realm, ha1_md5, ha1_sha256 FROM agents WHERE login = $1")
                .bind(login.to_owned())
                .fetch_optional(self.pool());
        let Some(row) = within(limit, query).await? else {
            return Ok(None);
        };
        Ok(Some(AgentCredentials {
            login: row.try_get("login")?,
            realm: row.try_get("realm")?,
            ha1_md5: row.try_get("ha1_md5")?,
            ha1_sha256: row.try_get("ha1_sha256")?,
        }))
    }
}

/// Logins are SIP user names: kept to characters no phone escapes.
fn check_login(login: &str) -> Result<(), AgentError> {
    let valid = !login.is_empty()
        && login.len() <= 64
        && login
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if valid {
        Ok(())
    } else {
        Err(AgentError::InvalidLogin(login.to_owned()))
    }
}

/// HA1 for MD5 and for SHA-256.
fn secrets(login: &str, realm: &str, password: &str) -> (String, String) {
    (
        ha1(Algorithm::Md5, login, realm, password),
        ha1(Algorithm::Sha256, login, realm, password),
    )
}

async fn insert_skills(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    agent_id: &str,
    skills: &[Skill],
) -> Result<(), AgentError> {
    for (i, skill) in skills.iter().enumerate() {
        if skills[..i].iter().any(|s| s.skill == skill.skill) {
            return Err(AgentError::InvalidSkill(format!(
                "{} given twice",
                skill.skill
            )));
        }
        sqlx::query("INSERT INTO agent_skills (agent_id, skill, level) VALUES ($1, $2, $3)")
            .bind(agent_id)
            .bind(&skill.skill)
            .bind(skill.level)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

//! The CRM as flows see it: named lookups and ticket registration in call values.
//!
//! A flow's `lookup` node names a query (`balance`, `services`, …) and passes
//! call variables as parameters; this module runs it and answers with the
//! values the flow stores and speaks. The same code serves SIP calls and
//! `hotline flows simulate` against the configured database.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::sources::mapping::FieldSpec;
use super::sources::mapping::untyped;
use super::sources::overridable;
use super::sources::sql::row_json;
use super::tickets::{NewTicket, Ticket, TicketError, TicketType};
use super::{Db, DbError, within};
use crate::flow::{LookupFailure, TicketFailure, TicketNumber, Value, Values};

/// The lookups built into hotline, with the parameters each reads.
pub const BUILTIN_LOOKUPS: [&str; 5] = [
    "balance",
    "services",
    "last_ticket",
    "last_meter_reading",
    "customer_by_account",
];

/// A read-only lookup an admin declares in `[[lookups]]`: an SQL query, or
/// (on an HTTP source) a request.
///
/// The SQL uses the database's placeholders (`$1, $2, …`; `?` on MySQL);
/// `params` names the call variables bound to them, in order. Values are only
/// ever bound, never spliced into the text. Without `fields`, the first row's
/// columns become the lookup's fields; no row is "not found".
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CustomQuery {
    pub name: String,
    /// The `[[crm.sources]]` entry it runs on; hotline's own database when absent.
    /// A built-in lookup (`balance`, …, `caller_by_number`) with a source replaces the built-in.
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub sql: String,
    #[serde(default)]
    pub params: Vec<String>,
    /// HTTP: the method, GET by default.
    #[serde(default)]
    pub method: Option<String>,
    /// HTTP: the path after the source's base URL, with `{param}` placeholders.
    #[serde(default)]
    pub path: Option<String>,
    /// HTTP: a JSON body, with `{param}` placeholders in its strings.
    #[serde(default)]
    pub body: Option<serde_json::Value>,
    /// Typed fields and where they come from in the answer.
    #[serde(default)]
    pub fields: BTreeMap<String, FieldSpec>,
    /// Parameters `hotline crm check` runs the lookup with.
    #[serde(default)]
    pub sample: BTreeMap<String, String>,
}

impl CustomQuery {
    /// Why the query may not be used, if it is not a single read-only SELECT.
    pub fn problem(&self) -> Option<String> {
        if overridable(&self.name) && self.source.is_none() {
            return Some(format!("`{}` is a built-in lookup", self.name));
        }
        if let Some(path) = &self.path {
            if !self.sql.is_empty() {
                return Some("has both `sql` and `path`".into());
            }
            let named = |p: &String| path.contains(&format!("{{{p}}}"));
            let body = self
                .body
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            return self
                .params
                .iter()
                .find(|p| !named(p) && !body.contains(&format!("{{{p}}}")))
                .map(|p| format!("names parameter `{p}` that neither path nor body uses"));
        }
        let sql = self.sql.trim().trim_end_matches(';');
        let first = sql
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if first != "select" && first != "with" {
            return Some("must be a SELECT (or WITH … SELECT) query".into());
        }
        if sql.contains(';') {
            return Some("must be a single statement".into());
        }
        let highest = (1..=self.params.len() + 1)
            .rev()
            .find(|n| sql.contains(&format!("${n}")))
            .unwrap_or(0);
        if highest > self.params.len() {
            return Some(format!(
                "uses ${highest} but names {} parameter(s)",
                self.params.len()
            ));
        }
        None
    }
}

impl Db {
    /// Runs the named lookup with the flow's parameters.
    pub async fn run_lookup(
        &self,
        name: &str,
        params: &Values,
        custom: &[CustomQuery],
        limit: Duration,
    ) -> Result<Values, LookupFailure> {
        let text = |key: &str| params.get(key).map(Value::to_string).unwrap_or_default();
        let found = match name {
            "balance" => self.balance(&text("customer"), limit).await.map(|b| {
                b.map(|b| {
                    fields([(
                        "amount",
                        Value::Money {
                            minor_units: b.minor_units,
                            currency: b.currency,
                        },
                    )])
                })
            }),
            "services" => self.services(&text("phone"), limit).await.map(|list| {
                let count = Value::Number(list.len() as i64);
                let codes = list.iter().map(|s| Value::Text(s.code.clone())).collect();
                let names = list.into_iter().map(|s| Value::Text(s.name)).collect();
                Some(fields([
                    ("codes", Value::List(codes)),
                    ("names", Value::List(names)),
                    ("count", count),
                ]))
            }),
            "last_ticket" => self.latest_ticket(&text("customer"), limit).await.map(|t| {
                t.map(|t| {
                    fields([
                        ("number", Value::Text(spoken_number(&t.number))),
                        ("kind", Value::Text(t.kind)),
                        ("status", Value::Text(t.status)),
                    ])
                })
            }),
            "last_meter_reading" => {
                self.last_meter_reading(&text("customer"), limit)
                    .await
                    .map(|r| {
                        r.map(|r| {
                            fields([(
                                "reading",
                                Value::Quantity {
                                    value: r.reading,
                                    unit: r.unit,
                                },
                            )])
                        })
                    })
            }
            "customer_by_account" => {
                let pin = params.get("pin").map(Value::to_string);
                self.find_customer_by_account(&text("account"), pin.as_deref(), limit)
                    .await
                    .map(|c| {
                        c.map(|c| {
                            fields([
                                ("customer", Value::Text(c.id)),
                                ("language", Value::Text(c.language)),
                            ])
                        })
                    })
            }
            other => match custom.iter().find(|q| q.name == other) {
                Some(query) => self.run_custom(query, params, limit).await,
                None => {
                    return Err(LookupFailure::Unavailable(format!(
                        "no lookup named `{other}`"
                    )));
                }
            },
        };
        match found {
            Ok(Some(values)) => Ok(values),
            Ok(None) => Err(LookupFailure::NotFound),
            Err(error) => Err(LookupFailure::Unavailable(error.to_string())),
        }
    }

    /// Runs an admin's query in a transaction that is always rolled back, so
    /// even a query that slipped past the SELECT check cannot change anything.
    async fn run_custom(
        &self,
        query: &CustomQuery,
        params: &Values,
        limit: Duration,
    ) -> Result<Option<Values>, DbError> {
        let work = async {
            let mut tx = self.pool().begin().await?;
            if self.is_postgres() {
                sqlx::query("SET TRANSACTION READ ONLY")
                    .execute(&mut *tx)
                    .await?;
            }
            let mut statement = sqlx::query(&query.sql);
            for name in &query.params {
                statement = statement.bind(params.get(name).map(Value::to_string));
            }
            let row = statement.fetch_optional(&mut *tx).await?;
            tx.rollback().await?;
            Ok(row)
        };
        let Some(row) = within(limit, work).await? else {
            return Ok(None);
        };
        Ok(Some(untyped(&row_json(&row))))
    }

    /// Registers a flow's ticket, exactly once per call and type; the number
    /// given back is the one the caller hears.
    pub async fn register_flow_ticket(
        &self,
        call_id: &str,
        request: FlowTicket<'_>,
        types: &[TicketType],
    ) -> Result<TicketNumber, TicketFailure> {
        let ticket = self
            .register_flow_ticket_record(call_id, request, types)
            .await?;
        Ok(TicketNumber(spoken_number(&ticket.number)))
    }

    /// [`Db::register_flow_ticket`], giving the whole ticket registered.
    pub(crate) async fn register_flow_ticket_record(
        &self,
        call_id: &str,
        request: FlowTicket<'_>,
        types: &[TicketType],
    ) -> Result<Ticket, TicketFailure> {
        let new = NewTicket {
            call_id: call_id.to_owned(),
            kind: request.kind.to_owned(),
            customer_id: request.customer.map(str::to_owned),
            phone: request.phone.to_owned(),
            fields: request
                .fields
                .iter()
                .map(|(k, v)| (k.clone(), v.to_string()))
                .collect(),
        };
        match self.register_ticket(&new, types).await {
            Ok(ticket) => Ok(ticket),
            Err(TicketError::Rejected { reason }) => Err(TicketFailure::Rejected {
                code: reason.to_owned(),
            }),
            Err(TicketError::MissingField { field, .. }) => Err(TicketFailure::Rejected {
                code: format!("missing_{field}"),
            }),
            Err(other) => Err(TicketFailure::Unavailable(other.to_string())),
        }
    }
}

/// What a flow's ticket node asks to register.
#[derive(Debug, Clone, Copy)]
pub struct FlowTicket<'a> {
    pub kind: &'a str,
    pub fields: &'a Values,
    pub customer: Option<&'a str>,
    pub phone: &'a str,
}

/// The digits of a ticket number (`T-000042` is read back as `000042`, the
/// CRM's `CRM-555` as `555`): the say engine speaks digits one by one and has
/// no letters, and a prefix every number shares tells the caller nothing.
pub fn spoken_number(number: &str) -> String {
    number.chars().filter(char::is_ascii_digit).collect()
}

fn fields<const N: usize>(pairs: [(&str, Value); N]) -> Values {
    pairs
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect::<BTreeMap<_, _>>()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(sql: &str, params: &[&str]) -> CustomQuery {
        CustomQuery {
            name: "open_tickets".into(),
            sql: sql.into(),
            params: params.iter().map(|p| p.to_string()).collect(),
            ..CustomQuery::default()
        }
    }

    #[test]
    fn only_single_select_queries_with_named_parameters_are_accepted() {
        let ok = query(
            "SELECT COUNT(*) AS open FROM tickets WHERE customer_id = $1",
            &["customer"],
        );
        assert_eq!(ok.problem(), None);
        assert_eq!(
            query("DELETE FROM tickets", &[]).problem().unwrap(),
            "must be a SELECT (or WITH … SELECT) query"
        );
        assert_eq!(
            query("SELECT 1; DROP TABLE tickets", &[])
                .problem()
                .unwrap(),
            "must be a single statement"
        );
        assert_eq!(
            query("SELECT 1 WHERE $1 = $2", &["a"]).problem().unwrap(),
            "uses $2 but names 1 parameter(s)"
        );
        let mut builtin = ok.clone();
        builtin.name = "balance".into();
        assert_eq!(builtin.problem().unwrap(), "`balance` is a built-in lookup");
    }

    #[test]
    fn ticket_numbers_are_read_back_as_their_digits() {
        assert_eq!(spoken_number("T-000042"), "000042");
        assert_eq!(spoken_number("CRM-555"), "555");
    }
}

//! The company's own CRM, where it lives: named SQL databases and HTTP APIs
//! (`[[crm.sources]]`) that lookups (`[[lookups]]` with a `source`) and
//! caller identification read from, each behind its own circuit breaker.
//!
//! Lookups without a source, and built-in lookups not pointed at one, read
//! hotline's own tables, so the demo works with no CRM configured.

pub mod breaker;
pub mod check;
pub(crate) mod http;
pub mod mapping;
pub(crate) mod sql;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tracing::{debug, info, warn};

use self::breaker::{Admission, Breaker, BreakerSettings, Transition};
use self::mapping::{Answer, MappingError, map_fields, untyped};
use super::customers::Customer;
use super::delivery::Target;
use super::self_service::{BUILTIN_LOOKUPS, CustomQuery, FlowTicket, spoken_number};
use super::tickets::{Ticket, TicketType};
use super::{Db, DbError};
use crate::flow::{LookupFailure, TicketFailure, TicketNumber, Value, Values};

/// The lookup that identifies a caller by number, when pointed at a source.
pub const CALLER_LOOKUP: &str = "caller_by_number";

/// The lookup that finds a customer by the CRM's id, when pointed at a
/// source: for a web caller the site names with a signed claim.
pub const CUSTOMER_LOOKUP: &str = "customer_by_id";

/// The CRM sources of the configuration (`[crm]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CrmSettings {
    /// Named sources (`[[crm.sources]]`).
    pub sources: Vec<SourceSettings>,
}

/// One named source: an SQL database or an HTTP API.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SourceSettings {
    Sql(sql::SqlSettings),
    Http(http::HttpSettings),
}

impl SourceSettings {
    /// The source's name, as lookups refer to it.
    pub fn name(&self) -> &str {
        match self {
            SourceSettings::Sql(s) => &s.name,
            SourceSettings::Http(s) => &s.name,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            SourceSettings::Sql(_) => "sql",
            SourceSettings::Http(_) => "http",
        }
    }
}

/// The fields a built-in lookup must give when pointed at a source, for the flows that use it.
fn required_fields(lookup: &str) -> &'static [&'static str] {
    match lookup {
        "balance" => &["amount"],
        "services" => &["codes"],
        "last_ticket" => &["number"],
        "last_meter_reading" => &["reading"],
        "customer_by_account" | CALLER_LOOKUP => &["customer"],
        _ => &[],
    }
}

/// Why the sources and lookups of a configuration do not fit together.
pub fn problem(settings: &CrmSettings, lookups: &[CustomQuery]) -> Option<String> {
    let mut names = std::collections::BTreeSet::new();
    for source in &settings.sources {
        if !names.insert(source.name()) {
            return Some(format!("source `{}` is declared twice", source.name()));
        }
        let problem = match source {
            SourceSettings::Sql(s) => s.problem(),
            SourceSettings::Http(s) => s.problem(),
        };
        if let Some(problem) = problem {
            return Some(format!("source `{}` {problem}", source.name()));
        }
    }
    for lookup in lookups {
        let Some(name) = &lookup.source else { continue };
        let Some(source) = settings.sources.iter().find(|s| s.name() == name) else {
            return Some(format!(
                "lookup `{}` names source `{name}`, which is not declared in [[crm.sources]]",
                lookup.name
            ));
        };
        let http = lookup.path.is_some();
        if http != matches!(source, SourceSettings::Http(_)) {
            return Some(format!(
                "lookup `{}` needs {} on {} source `{name}`",
                lookup.name,
                if http { "no `path`" } else { "a `path`" },
                source.kind()
            ));
        }
        let missing = required_fields(&lookup.name)
            .iter()
            .find(|f| !lookup.fields.contains_key(**f));
        if let Some(field) = missing {
            return Some(format!(
                "lookup `{}` must map the field `{field}` that flows read",
                lookup.name
            ));
        }
    }
    None
}

/// The sources a running hotline reads, and the lookups that use them.
#[derive(Clone)]
pub struct Crm(Arc<Inner>);

struct Inner {
    db: Db,
    sources: BTreeMap<String, Source>,
    lookups: Vec<CustomQuery>,
    default_language: String,
    /// Where tickets are delivered, for the attempt made while the caller waits.
    delivery: Option<Target>,
    client: reqwest::Client,
}

/// A source that cannot even be set up (a bad URL, a missing secret).
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("CRM source `{source_name}`: {problem}")]
    Source {
        source_name: String,
        problem: String,
    },
    /// Where tickets are delivered cannot be set up.
    #[error("ticket delivery: {problem}")]
    Tickets { problem: String },
}

impl Crm {
    /// Sets the sources up without connecting: a source that is down at
    /// start-up is logged, and its lookups take their fallback. `delivery` is
    /// where tickets go, tried at once while a caller waits for the number.
    pub fn start(
        db: Db,
        settings: &CrmSettings,
        lookups: &[CustomQuery],
        default_language: &str,
        delivery: Option<Target>,
    ) -> Result<Crm, SetupError> {
        let mut sources = BTreeMap::new();
        for source in &settings.sources {
            let fail = |problem: String| SetupError::Source {
                source_name: source.name().to_owned(),
                problem,
            };
            let (kind, circuit) = match source {
                SourceSettings::Sql(s) => {
                    (Kind::Sql(sql::SqlSource::new(s).map_err(fail)?), s.circuit)
                }
                SourceSettings::Http(s) => (
                    Kind::Http(http::HttpSource::new(s).map_err(fail)?),
                    s.circuit,
                ),
            };
            let source = Source {
                name: source.name().to_owned(),
                kind,
                breaker: Mutex::new(Breaker::new(circuit)),
                circuit,
                counters: Counters::default(),
            };
            sources.insert(source.name.clone(), source);
        }
        Ok(Crm(Arc::new(Inner {
            db,
            sources,
            lookups: lookups.to_vec(),
            default_language: default_language.to_owned(),
            delivery,
            client: reqwest::Client::new(),
        })))
    }

    /// Tries each SQL source once in the background and logs the ones that are down.
    pub fn probe_in_background(&self) {
        for source in self.0.sources.values() {
            if let Kind::Sql(sql) = &source.kind {
                let (name, sql) = (source.name.clone(), sql.clone());
                tokio::spawn(async move {
                    match sql.ping().await {
                        Ok(()) => info!(source = %name, "CRM source reachable"),
                        Err(error) => warn!(
                            source = %name, %error,
                            "CRM source unreachable at start-up; its lookups take their fallback until it answers"
                        ),
                    }
                });
            }
        }
    }

    /// Where tickets are delivered, if anywhere: the outbox worker sends there.
    pub fn delivery(&self) -> Option<&Target> {
        self.0.delivery.as_ref()
    }

    /// Hotline's own database.
    pub fn db(&self) -> &Db {
        &self.0.db
    }

    /// Runs the named lookup: on its source when it has one, else on hotline's tables.
    pub async fn lookup(
        &self,
        name: &str,
        params: &Values,
        limit: Duration,
    ) -> Result<Values, LookupFailure> {
        let Some((lookup, source)) = self.routed(name) else {
            return self
                .0
                .db
                .run_lookup(name, params, &self.0.lookups, limit)
                .await;
        };
        match source.run(lookup, params, limit).await {
            Ok(Some(values)) => Ok(builtin_extras(name, values)),
            Ok(None) => Err(LookupFailure::NotFound),
            Err(error) => Err(LookupFailure::Unavailable(error.to_string())),
        }
    }

    /// The customer calling from `phone`: from the source `caller_by_number`
    /// names, else from hotline's own customers.
    pub async fn identify(&self, phone: &str, limit: Duration) -> Result<Option<Customer>, String> {
        if self.routed(CALLER_LOOKUP).is_none() {
            return self
                .0
                .db
                .find_customer_by_phone(phone, limit)
                .await
                .map_err(|e: DbError| e.to_string());
        }
        let params = Values::from([("phone".to_owned(), Value::Text(phone.to_owned()))]);
        self.customer_from(CALLER_LOOKUP, &params, "", limit).await
    }

    /// The customer the CRM knows as `id` (a site's signed claim of who its
    /// web caller is): from the source `customer_by_id` names; else, when
    /// the CRM identifies callers but offers no lookup by id, the claim as
    /// it is (its id, the default language); else from hotline's own customers.
    pub async fn find_customer(
        &self,
        id: &str,
        limit: Duration,
    ) -> Result<Option<Customer>, String> {
        if self.routed(CUSTOMER_LOOKUP).is_some() {
            let params = Values::from([("customer".to_owned(), Value::Text(id.to_owned()))]);
            return self
                .customer_from(CUSTOMER_LOOKUP, &params, id, limit)
                .await;
        }
        if self.identifies_externally() {
            return Ok(Some(Customer {
                id: id.to_owned(),
                name: String::new(),
                language: self.0.default_language.clone(),
                account_number: String::new(),
            }));
        }
        self.0
            .db
            .find_customer(id, limit)
            .await
            .map_err(|e: DbError| e.to_string())
    }

    /// The customer an identifying lookup answers; `id` when its answer
    /// names none.
    async fn customer_from(
        &self,
        lookup: &str,
        params: &Values,
        id: &str,
        limit: Duration,
    ) -> Result<Option<Customer>, String> {
        match self.lookup(lookup, params, limit).await {
            Ok(values) => {
                let text = |key: &str| values.get(key).map(Value::to_string);
                Ok(Some(Customer {
                    id: text("customer").unwrap_or_else(|| id.to_owned()),
                    name: text("name").unwrap_or_default(),
                    language: text("language").unwrap_or_else(|| self.0.default_language.clone()),
                    account_number: text("account").unwrap_or_default(),
                }))
            }
            Err(LookupFailure::NotFound) => Ok(None),
            Err(LookupFailure::Unavailable(why)) => Err(why),
        }
    }

    /// Whether callers are identified by a CRM source rather than hotline's
    /// own customers table, so their ids name no row of it.
    pub fn identifies_externally(&self) -> bool {
        [CALLER_LOOKUP, CUSTOMER_LOOKUP]
            .iter()
            .any(|name| self.routed(name).is_some())
    }

    /// Registers a flow's ticket in hotline's outbox, exactly once per call
    /// and type, and gives the number the caller hears: the CRM's own when
    /// the ticket type waits for it (`crm_wait_ms`) and the CRM answers in
    /// time, else hotline's. `limit` is what is left of the flow's own
    /// timeout; the wait never runs past it.
    pub async fn register_ticket(
        &self,
        call_id: &str,
        request: FlowTicket<'_>,
        types: &[TicketType],
        limit: Duration,
    ) -> Result<TicketNumber, TicketFailure> {
        let started = Instant::now();
        let ticket = self.register_ticket_record(call_id, request, types).await?;
        let wait = types
            .iter()
            .find(|t| t.name == ticket.kind)
            .map_or(Duration::ZERO, |t| Duration::from_millis(t.crm_wait_ms));
        let budget = wait.min(
            limit
                .saturating_sub(started.elapsed())
                .saturating_sub(ANSWER_MARGIN),
        );
        let crm_number = match (&ticket.crm_number, &self.0.delivery) {
            (Some(number), _) => Some(number.clone()),
            (None, Some(webhook)) if !budget.is_zero() => {
                self.0
                    .db
                    .deliver_within(&self.0.client, webhook, &ticket.id, budget)
                    .await
            }
            _ => None,
        };
        Ok(TicketNumber(heard_number(
            &ticket.number,
            crm_number.as_deref(),
        )))
    }

    /// Registers the ticket. A customer the CRM identified has no row among
    /// hotline's customers, so the ticket names them in its `crm_customer`
    /// field instead, and the CRM finds them by it.
    async fn register_ticket_record(
        &self,
        call_id: &str,
        request: FlowTicket<'_>,
        types: &[TicketType],
    ) -> Result<Ticket, TicketFailure> {
        let external = [CALLER_LOOKUP, CUSTOMER_LOOKUP, "customer_by_account"]
            .iter()
            .any(|name| self.routed(name).is_some());
        let Some(customer) = request.customer.filter(|_| external) else {
            return self
                .0
                .db
                .register_flow_ticket_record(call_id, request, types)
                .await;
        };
        let mut fields = request.fields.clone();
        fields.insert("crm_customer".into(), Value::Text(customer.to_owned()));
        let request = FlowTicket {
            customer: None,
            fields: &fields,
            ..request
        };
        self.0
            .db
            .register_flow_ticket_record(call_id, request, types)
            .await
    }

    /// Each source's counters and circuit state, for the admin API.
    pub fn counters(&self) -> Vec<SourceCounters> {
        self.0.sources.values().map(Source::counters).collect()
    }

    /// The lookup and its source, when `name` is pointed at one.
    fn routed(&self, name: &str) -> Option<(&CustomQuery, &Source)> {
        let lookup = self.0.lookups.iter().find(|q| q.name == name)?;
        let source = self.0.sources.get(lookup.source.as_deref()?)?;
        Some((lookup, source))
    }
}

/// Time kept back from the flow's timeout for the answer to reach the call.
const ANSWER_MARGIN: Duration = Duration::from_millis(200);

/// The number the caller hears: the digits of the CRM's number when there is
/// one with digits (`CRM-555` is read as 5 5 5), else those of hotline's.
fn heard_number(hotline: &str, crm: Option<&str>) -> String {
    crm.map(spoken_number)
        .filter(|digits| !digits.is_empty())
        .unwrap_or_else(|| spoken_number(hotline))
}

/// What built-in lookups give beyond their mapped fields, as flows expect them.
fn builtin_extras(name: &str, mut values: Values) -> Values {
    match name {
        "services" if !values.contains_key("count") => {
            let count = values.get("codes").map_or(0, |c| c.texts().len());
            values.insert("count".into(), Value::Number(count as i64));
        }
        "last_ticket" => {
            if let Some(Value::Text(number)) = values.get_mut("number") {
                *number = spoken_number(number);
            }
        }
        _ => {}
    }
    values
}

/// One configured source with its circuit and counters.
struct Source {
    name: String,
    kind: Kind,
    breaker: Mutex<Breaker>,
    circuit: BreakerSettings,
    counters: Counters,
}

enum Kind {
    Sql(sql::SqlSource),
    Http(http::HttpSource),
}

/// Why a lookup on a source has no answer.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The source failed too often lately; it is not asked until the cool-down ends.
    #[error("circuit open: the source failed {0} times in a row")]
    CircuitOpen(u32),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    Unavailable(String),
    /// The source answered, but not as the lookup's fields say.
    #[error("answer does not match the lookup: {0}")]
    Mapping(#[from] MappingError),
}

impl Source {
    /// Runs a lookup under the circuit and `limit`; `None` is "not found".
    async fn run(
        &self,
        lookup: &CustomQuery,
        params: &Values,
        limit: Duration,
    ) -> Result<Option<Values>, SourceError> {
        let admission = {
            let mut breaker = self.lock();
            let (admission, transition) = breaker.admit(Instant::now());
            self.log(transition);
            admission
        };
        self.counters.lookups.fetch_add(1, Ordering::Relaxed);
        if admission == Admission::Refused {
            self.counters.refused.fetch_add(1, Ordering::Relaxed);
            return Err(SourceError::CircuitOpen(self.circuit.failures_to_open));
        }
        let started = Instant::now();
        let result = match tokio::time::timeout(limit, self.fetch(lookup, params, limit)).await {
            Ok(result) => result,
            Err(_) => Err(SourceError::Timeout(limit)),
        };
        let transition = {
            let mut breaker = self.lock();
            match &result {
                Err(SourceError::Timeout(_)) | Err(SourceError::Unavailable(_)) => {
                    breaker.failed(Instant::now())
                }
                _ => breaker.succeeded(),
            }
        };
        let counter = match &result {
            Ok(Some(_)) => &self.counters.found,
            Ok(None) => &self.counters.not_found,
            Err(SourceError::Timeout(_)) => &self.counters.timeouts,
            Err(_) => &self.counters.failures,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let elapsed_ms = started.elapsed().as_millis() as u64;
        match &result {
            Ok(found) => debug!(
                source = %self.name, lookup = %lookup.name, elapsed_ms,
                found = found.is_some(), "CRM lookup answered"
            ),
            Err(error) => warn!(
                source = %self.name, lookup = %lookup.name, elapsed_ms, %error,
                "CRM lookup failed"
            ),
        }
        self.log(transition);
        result
    }

    /// Asks the source and maps its answer to the lookup's fields.
    async fn fetch(
        &self,
        lookup: &CustomQuery,
        params: &Values,
        limit: Duration,
    ) -> Result<Option<Values>, SourceError> {
        match &self.kind {
            Kind::Sql(sql) => {
                let rows = sql
                    .rows(lookup, params)
                    .await
                    .map_err(|e| SourceError::Unavailable(e.to_string()))?;
                let only_lists = !lookup.fields.is_empty()
                    && lookup
                        .fields
                        .values()
                        .all(|f| f.kind == mapping::FieldKind::List);
                if rows.is_empty() && !only_lists {
                    return Ok(None);
                }
                if lookup.fields.is_empty() {
                    return Ok(Some(untyped(&rows[0])));
                }
                Ok(Some(map_fields(&lookup.fields, &Answer::Rows(&rows))?))
            }
            Kind::Http(http) => {
                let Some(body) = http.fetch(lookup, params, limit).await? else {
                    return Ok(None);
                };
                if lookup.fields.is_empty() {
                    return Ok(Some(untyped(&body)));
                }
                Ok(Some(map_fields(&lookup.fields, &Answer::Body(&body))?))
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Breaker> {
        self.breaker
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn log(&self, transition: Option<Transition>) {
        match transition {
            Some(Transition::Opened) => {
                self.counters.opened.fetch_add(1, Ordering::Relaxed);
                warn!(source = %self.name, "CRM circuit opened: lookups take their fallback at once until the cool-down ends");
            }
            Some(Transition::HalfOpened) => {
                info!(source = %self.name, "CRM circuit half-open: one lookup probes the source")
            }
            Some(Transition::Closed) => {
                info!(source = %self.name, "CRM circuit closed: the source answers again")
            }
            None => {}
        }
    }

    fn counters(&self) -> SourceCounters {
        let read = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let state = match self.lock().state() {
            breaker::State::Closed { .. } => "closed",
            breaker::State::Open { .. } => "open",
            breaker::State::HalfOpen => "half_open",
        };
        let c = &self.counters;
        SourceCounters {
            name: self.name.clone(),
            kind: match self.kind {
                Kind::Sql(_) => "sql",
                Kind::Http(_) => "http",
            },
            circuit: state,
            lookups: read(&c.lookups),
            found: read(&c.found),
            not_found: read(&c.not_found),
            failures: read(&c.failures),
            timeouts: read(&c.timeouts),
            refused: read(&c.refused),
            opened: read(&c.opened),
        }
    }
}

#[derive(Default)]
struct Counters {
    lookups: AtomicU64,
    found: AtomicU64,
    not_found: AtomicU64,
    failures: AtomicU64,
    timeouts: AtomicU64,
    refused: AtomicU64,
    opened: AtomicU64,
}

/// One source's figures since start: lookups asked, how they ended, and the circuit.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct SourceCounters {
    pub name: String,
    pub kind: &'static str,
    /// `closed`, `open` or `half_open`.
    pub circuit: &'static str,
    pub lookups: u64,
    pub found: u64,
    pub not_found: u64,
    /// Failed lookups other than timeouts (errors, answers that did not match).
    pub failures: u64,
    pub timeouts: u64,
    /// Lookups refused at once by an open circuit.
    pub refused: u64,
    /// Times the circuit opened.
    pub opened: u64,
}

/// The built-in lookups any source may answer instead of hotline's tables.
pub fn overridable(name: &str) -> bool {
    BUILTIN_LOOKUPS.contains(&name) || [CALLER_LOOKUP, CUSTOMER_LOOKUP].contains(&name)
}

/// Default circuit settings, for the sources' serde defaults.
fn default_circuit() -> BreakerSettings {
    BreakerSettings::default()
}

#[cfg(test)]
mod tests {
    use super::heard_number;

    #[test]
    fn the_caller_hears_the_digits_of_the_crms_number_when_it_has_any() {
        assert_eq!(heard_number("T-000042", Some("CRM-555")), "555");
        assert_eq!(heard_number("T-000042", None), "000042");
        assert_eq!(heard_number("T-000042", Some("ABC-XYZ")), "000042");
    }
}

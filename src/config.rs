//! Settings: defaults, then the TOML file, then environment variables, then flags.
//!
//! Every setting has a default, so `hotline serve` runs with no file at all on the
//! embedded SQLite database. Unknown keys in the file and invalid values stop
//! start-up with a message that names the setting.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The whole configuration of a hotline server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub sip: SipSettings,
    pub media: MediaSettings,
    pub database: DatabaseSettings,
    pub flows: FlowSettings,
    pub audio: AudioSettings,
    pub http: HttpSettings,
    pub tickets: TicketSettings,
    /// Admins' own read-only lookups (`[[lookups]]`), beside the built-in ones.
    pub lookups: Vec<crate::crm::self_service::CustomQuery>,
    /// The company's own CRM databases and APIs (`[[crm.sources]]`).
    pub crm: crate::crm::sources::CrmSettings,
    /// How callers wait for agents (`[queue]`).
    pub queue: QueueSettings,
    /// Agent queues (`[[queues]]`); the demo `support` queue by default.
    pub queues: Vec<crate::queue::QueueConfig>,
    /// Agents known from the configuration (`[[agents]]`), beside those in the database.
    pub agents: Vec<crate::queue::AgentConfig>,
    pub registrar: RegistrarSettings,
    /// The outbound trunk's credentials (`[trunk]`), for callbacks and transfers.
    pub trunk: TrunkSettings,
    /// What one SIP source may cost, and the TCP caps (`[limits]`).
    pub limits: crate::server::limits::LimitSettings,
    /// When new calls are refused because set-up is saturated (`[admission]`).
    pub admission: crate::server::admission::AdmissionSettings,
    /// The UDP socket browsers' WebRTC media uses (`[webrtc]`).
    pub webrtc: crate::webrtc::WebrtcSettings,
    /// Several nodes on one PostgreSQL behind a SIP proxy (`[cluster]`); none: one node.
    pub cluster: Option<crate::cluster::ClusterSettings>,
}

/// What hotline answers when the trunk (or any host it calls out to)
/// challenges its INVITE with 401 or 407.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrunkSettings {
    /// Empty: challenges are not answered and such calls fail.
    pub username: String,
    pub password: String,
    /// Only challenges of this realm are answered (empty: any realm).
    pub realm: String,
}

impl TrunkSettings {
    /// The credentials to answer challenges with, when configured.
    pub fn credentials(&self) -> Option<crate::sip::digest::ClientCredentials> {
        (!self.username.is_empty()).then(|| crate::sip::digest::ClientCredentials {
            username: self.username.clone(),
            password: self.password.clone(),
            realm: (!self.realm.is_empty()).then(|| self.realm.clone()),
        })
    }
}

/// How callers wait for agents, in every queue.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueSettings {
    /// Seconds of wrap-up after a call, for queues that set none.
    pub wrap_up_seconds: u32,
    /// The key a waiting caller presses to be called back instead (empty: no callback offer).
    pub callback_key: String,
    /// The prompt looped while a caller waits.
    pub music: String,
    /// A caller who hangs up while waiting and calls the same queue again
    /// within this many seconds gets their place back (0: never).
    pub keep_place_seconds: u64,
    /// Where hotline dials a customer whose callback's turn came, once an
    /// agent has answered for it: a SIP URI with `{number}` for the number,
    /// e.g. `sip:{number}@gateway.example:5060` (empty: the agent is given
    /// the number on the event stream and dials it themself).
    pub callback_dial: String,
    /// Tries in all for a callback whose customer does not answer (busy, no
    /// answer, unreachable), each going back in the queue.
    pub callback_attempts: u32,
    /// Seconds before such a callback goes back in the queue.
    pub callback_retry_seconds: u64,
    /// The number callbacks are placed from, as the customer's phone shows
    /// it (the hotline's own number); empty: anonymous.
    pub callback_caller_id: String,
}

impl Default for QueueSettings {
    fn default() -> Self {
        QueueSettings {
            wrap_up_seconds: 10,
            callback_key: "1".into(),
            music: "queue/music".into(),
            keep_place_seconds: 300,
            callback_dial: String::new(),
            callback_attempts: 3,
            callback_retry_seconds: 600,
            callback_caller_id: String::new(),
        }
    }
}

/// Ticket types the IVR may register and where tickets are delivered.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TicketSettings {
    /// Declared request types (`[[tickets.types]]`); the demo ones by default.
    pub types: Vec<crate::crm::tickets::TicketType>,
    /// The CRM webhook; without it (or `sql`) tickets stay in the database.
    pub webhook: Option<crate::crm::delivery::WebhookSettings>,
    /// Tickets inserted into a CRM database instead of sent to a webhook.
    pub sql: Option<crate::crm::delivery_sql::SqlTicketSettings>,
}

impl TicketSettings {
    /// Why the ticket delivery cannot work with the CRM sources declared.
    fn delivery_problem(&self, sources: &[crate::crm::sources::SourceSettings]) -> Option<String> {
        let sql = self.sql.as_ref()?;
        if self.webhook.is_some() {
            return Some("declare [tickets.webhook] or [tickets.sql], not both".into());
        }
        sql.problem(sources)
    }
}

impl TicketSettings {
    /// Where tickets are delivered, if anywhere; `sources` are the CRM sources
    /// a SQL target may name.
    pub fn target(
        &self,
        sources: &[crate::crm::sources::SourceSettings],
    ) -> Result<Option<crate::crm::delivery::Target>, String> {
        crate::crm::delivery::Target::from_settings(
            self.webhook.as_ref(),
            self.sql.as_ref(),
            sources,
        )
    }
}

impl Default for TicketSettings {
    fn default() -> Self {
        TicketSettings {
            types: crate::crm::tickets::demo_ticket_types(),
            webhook: None,
            sql: None,
        }
    }
}

/// The registrar agents' phones register with (digest authentication).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistrarSettings {
    /// The digest realm; agents' passwords are stored for it.
    pub realm: String,
    /// Digest algorithms offered, preferred first (`SHA-256`, `MD5`).
    pub algorithms: Vec<crate::sip::digest::Algorithm>,
    /// How long a nonce may be used, in seconds.
    pub nonce_seconds: u64,
    /// Shortest registration accepted (423 below), in seconds.
    pub min_expires: u32,
    /// Longer registrations are cut to this, in seconds.
    pub max_expires: u32,
    /// Registration length when a phone asks for none, in seconds.
    pub default_expires: u32,
    /// Wrong passwords from one source within the window that block it.
    pub max_failures: u32,
    /// The window failures are counted in, in seconds.
    pub failure_window_seconds: u64,
    /// How long a blocked source is refused, in seconds.
    pub block_seconds: u64,
    /// How long credentials read from the database are used, in seconds.
    pub credentials_cache_seconds: u64,
    /// Devices one agent may register at once.
    pub max_devices: usize,
}

impl Default for RegistrarSettings {
    fn default() -> Self {
        use crate::sip::digest::Algorithm;
        RegistrarSettings {
            realm: "hotline".into(),
            algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
            nonce_seconds: 300,
            min_expires: 60,
            max_expires: 3600,
            default_expires: 3600,
            max_failures: 5,
            failure_window_seconds: 60,
            block_seconds: 300,
            credentials_cache_seconds: 10,
            max_devices: 8,
        }
    }
}

/// SIP signalling settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SipSettings {
    /// UDP and TCP listen address.
    pub listen: SocketAddr,
    /// Address written in Contact and Via when `listen` is a wildcard address.
    pub public_address: Option<IpAddr>,
    /// Calls in progress beyond which new INVITEs get 503 with Retry-After.
    pub max_calls: usize,
    /// Seconds suggested in Retry-After when over `max_calls`.
    pub retry_after_seconds: u32,
    /// Country code used to normalise national caller numbers to E.164.
    pub country_code: String,
    /// The User-Agent and Server header value.
    pub user_agent: String,
    /// How long a call rings (180 Ringing) before it is answered, in milliseconds.
    pub answer_delay_ms: u64,
    /// Longest a call may last before hotline hangs up, in seconds.
    pub max_call_seconds: u64,
    /// DNS servers for the names of SIP URIs hotline calls (SRV, then A and
    /// AAAA); empty: the system's.
    pub dns_servers: Vec<SocketAddr>,
}

/// RTP media settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MediaSettings {
    /// Address RTP sockets bind to.
    pub bind_address: IpAddr,
    /// Address written in SDP `c=` when `bind_address` is a wildcard address.
    pub public_address: Option<IpAddr>,
    /// First RTP port (even) of the range used for calls.
    pub port_min: u16,
    /// Last RTP port of the range.
    pub port_max: u16,
    /// Run the in-band DTMF detector on every call, not only on calls without
    /// telephone-event.
    pub inband_dtmf_always: bool,
    /// A call whose peer sends neither RTP nor RTCP for this long is hung up
    /// (its phone or network is gone without a BYE); 0 turns the check off.
    /// Calls on hold are not checked.
    pub rtp_timeout_seconds: u64,
    /// Real-time priority (`SCHED_FIFO`, 1–99) media workers ask for, so that
    /// signalling and database work on the same core do not delay packets;
    /// 0 keeps normal scheduling. Where the system refuses it, the workers run
    /// at normal priority and one log line says so.
    pub realtime_priority: u8,
}

/// Database settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// `sqlite://FILE` (created on first start) or `postgres://...`.
    pub url: String,
    /// Load the demo CRM data on start when the database has no customers.
    pub seed_demo: bool,
}

/// Flow settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FlowSettings {
    /// Directory of flow files, watched for changes.
    pub dir: PathBuf,
    /// The flow id that answers calls.
    pub entry: String,
    /// How often the directory is checked for changed flow files.
    pub reload_ms: u64,
}

/// Prompt settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AudioSettings {
    /// Directory of prompts, one sub-directory per language.
    pub dir: PathBuf,
    /// Language used when a prompt is missing in the caller's language.
    pub default_language: String,
}

/// Admin HTTP API settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    pub listen: SocketAddr,
    /// PEM certificate chain for HTTPS; with `tls_key`, the listener speaks
    /// TLS only (browsers allow microphones only on https or loopback).
    pub tls_certificate: Option<PathBuf>,
    /// PEM private key of `tls_certificate`.
    pub tls_key: Option<PathBuf>,
}

/// A configuration problem, naming the setting at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("setting `{setting}`: {message}")]
    Invalid {
        setting: &'static str,
        message: String,
    },
}

/// Values given on the command line or in `HOTLINE_*` variables; they override the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub sip: Option<SocketAddr>,
    pub db: Option<String>,
    pub flows: Option<PathBuf>,
    pub audio: Option<PathBuf>,
    pub http: Option<SocketAddr>,
}

impl Config {
    /// Loads the file (if any), applies the overrides and checks the result.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Config, ConfigError> {
        let mut config = match file {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        config.apply(overrides);
        config.check()?;
        Ok(config)
    }

    /// Parses a TOML file; unknown keys are errors.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::from_toml(&text).map_err(|message| ConfigError::Parse {
            path: path.to_owned(),
            message,
        })
    }

    /// Parses TOML text.
    pub fn from_toml(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string().trim_end().to_owned())
    }

    fn apply(&mut self, overrides: &Overrides) {
        if let Some(sip) = overrides.sip {
            self.sip.listen = sip;
        }
        if let Some(db) = &overrides.db {
            self.database.url = db.clone();
        }
        if let Some(flows) = &overrides.flows {
            self.flows.dir = flows.clone();
        }
        if let Some(audio) = &overrides.audio {
            self.audio.dir = audio.clone();
        }
        if let Some(http) = overrides.http {
            self.http.listen = http;
        }
    }

    /// Checks values that parse but make no sense together.
    pub fn check(&self) -> Result<(), ConfigError> {
        let url = &self.database.url;
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return Err(invalid(
                "database.url",
                format!("`{url}` is neither sqlite://FILE nor postgres://..."),
            ));
        }
        if self.sip.max_calls == 0 {
            return Err(invalid("sip.max_calls", "must be at least 1".into()));
        }
        if self.sip.country_code.is_empty()
            || !self.sip.country_code.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(invalid(
                "sip.country_code",
                format!(
                    "`{}` is not a country calling code such as 380",
                    self.sip.country_code
                ),
            ));
        }
        let media = &self.media;
        if media.port_min == 0 || media.port_min >= media.port_max {
            return Err(invalid(
                "media.port_min",
                format!(
                    "range {}-{} is empty or starts at 0",
                    media.port_min, media.port_max
                ),
            ));
        }
        if self.http.tls_certificate.is_some() != self.http.tls_key.is_some() {
            return Err(invalid(
                "http.tls_certificate",
                "give both `tls_certificate` and `tls_key`, or neither".into(),
            ));
        }
        let webrtc = &self.webrtc;
        if webrtc.port_min == 0 || webrtc.port_min > webrtc.port_max {
            return Err(invalid(
                "webrtc.port_min",
                format!(
                    "range {}-{} is empty or starts at 0",
                    webrtc.port_min, webrtc.port_max
                ),
            ));
        }
        if self.audio.default_language.is_empty() {
            return Err(invalid(
                "audio.default_language",
                "must not be empty".into(),
            ));
        }
        if self.flows.entry.is_empty() {
            return Err(invalid("flows.entry", "must name a flow id".into()));
        }
        if self.flows.reload_ms == 0 {
            return Err(invalid("flows.reload_ms", "must be at least 1".into()));
        }
        let dial = &self.queue.callback_dial;
        if !dial.is_empty() {
            let example = dial.replace("{number}", "+380441234567");
            let is_sip = matches!(
                crate::sip::uri::parse_uri(&example),
                Ok(crate::sip::message::Uri::Sip(_))
            );
            if !dial.contains("{number}") || !is_sip {
                return Err(invalid(
                    "queue.callback_dial",
                    format!("`{dial}` is not a SIP URI with {{number}} in it"),
                ));
            }
        }
        if self.queue.callback_key.chars().count() > 1
            || !self
                .queue
                .callback_key
                .chars()
                .all(|c| "0123456789*#".contains(c))
        {
            return Err(invalid(
                "queue.callback_key",
                format!("`{}` is not one key (0-9, *, #)", self.queue.callback_key),
            ));
        }
        if let Err(error) = crate::queue::Acd::new(self.acd(), std::time::Instant::now()) {
            return Err(invalid("queues", error.to_string()));
        }
        for query in &self.lookups {
            if let Some(problem) = query.problem() {
                return Err(invalid(
                    "lookups",
                    format!("lookup `{}` {problem}", query.name),
                ));
            }
        }
        if let Some(problem) = crate::crm::sources::problem(&self.crm, &self.lookups) {
            return Err(invalid("crm.sources", problem));
        }
        if let Some(problem) = self.tickets.delivery_problem(&self.crm.sources) {
            return Err(invalid("tickets.sql", problem));
        }
        if let Some((setting, message)) = self.limits.problem() {
            return Err(invalid(setting, message.into()));
        }
        if let Some((setting, message)) = self
            .cluster
            .as_ref()
            .and_then(|cluster| cluster.problem(url))
        {
            return Err(invalid(setting, message));
        }
        self.registrar.check()
    }

    fn queue_names(&self) -> std::collections::BTreeSet<String> {
        self.queues.iter().map(|q| q.name.clone()).collect()
    }

    /// The cluster settings, when this node is one of several.
    pub fn cluster(&self) -> Option<&crate::cluster::ClusterSettings> {
        self.cluster.as_ref().filter(|cluster| cluster.enabled)
    }

    /// The ACD's configuration: the queues, the configured agents, the wrap-up default.
    pub fn acd(&self) -> crate::queue::AcdConfig {
        crate::queue::AcdConfig {
            wrap_up_seconds: self.queue.wrap_up_seconds,
            agents: self.agents.clone(),
            queues: self.queues.clone(),
        }
    }

    /// The names flows may refer to: lookups, ticket types and queues.
    pub fn catalog(&self) -> crate::flow::Catalog {
        let builtin = crate::crm::self_service::BUILTIN_LOOKUPS.map(str::to_owned);
        let custom = self.lookups.iter().map(|q| q.name.clone());
        crate::flow::Catalog {
            lookups: builtin.into_iter().chain(custom).collect(),
            ticket_types: self
                .tickets
                .types
                .iter()
                .map(|t| (t.name.clone(), t.fields.iter().cloned().collect()))
                .collect(),
            queues: self.queue_names(),
        }
    }
}

impl Config {
    /// The CRM sources and lookups of this configuration, beside hotline's own database.
    pub fn crm(
        &self,
        db: crate::crm::Db,
    ) -> Result<crate::crm::sources::Crm, crate::crm::sources::SetupError> {
        crate::crm::sources::Crm::start(
            db,
            &self.crm,
            &self.lookups,
            &self.audio.default_language,
            self.tickets
                .target(&self.crm.sources)
                .map_err(|problem| crate::crm::sources::SetupError::Tickets { problem })?,
        )
    }
}

impl RegistrarSettings {
    /// The registrar core's settings.
    pub fn core_config(&self) -> crate::registrar::RegistrarConfig {
        crate::registrar::RegistrarConfig {
            digest: crate::sip::digest::DigestSettings {
                realm: self.realm.clone(),
                algorithms: self.algorithms.clone(),
                nonce_lifetime: std::time::Duration::from_secs(self.nonce_seconds),
            },
            min_expires: self.min_expires,
            max_expires: self.max_expires,
            default_expires: self.default_expires,
            failures: crate::registrar::FailureLimits {
                max_failures: self.max_failures,
                window: std::time::Duration::from_secs(self.failure_window_seconds),
                block: std::time::Duration::from_secs(self.block_seconds),
            },
            credentials_ttl: std::time::Duration::from_secs(self.credentials_cache_seconds),
            // A little longer than the query may take, so the query's own timeout answers first.
            lookup_timeout: crate::server::registrar::LOOKUP_LIMIT
                + std::time::Duration::from_secs(1),
            max_devices: self.max_devices,
        }
    }

    fn check(&self) -> Result<(), ConfigError> {
        let realm = &self.realm;
        if realm.is_empty()
            || realm
                .chars()
                .any(|c| c.is_control() || c == '"' || c == '\\')
        {
            return Err(invalid(
                "registrar.realm",
                format!("`{realm}` must be non-empty text without quotes or backslashes"),
            ));
        }
        let algorithms = &self.algorithms;
        if algorithms.is_empty()
            || (1..algorithms.len()).any(|i| algorithms[..i].contains(&algorithms[i]))
        {
            return Err(invalid(
                "registrar.algorithms",
                "name SHA-256, MD5 or both, each once".into(),
            ));
        }
        let positive = [
            ("registrar.nonce_seconds", self.nonce_seconds),
            ("registrar.min_expires", u64::from(self.min_expires)),
            ("registrar.max_failures", u64::from(self.max_failures)),
            (
                "registrar.failure_window_seconds",
                self.failure_window_seconds,
            ),
            ("registrar.max_devices", self.max_devices as u64),
        ];
        if let Some((setting, _)) = positive.iter().find(|(_, value)| *value == 0) {
            return Err(invalid(setting, "must be at least 1".into()));
        }
        if !(self.min_expires <= self.default_expires && self.default_expires <= self.max_expires) {
            return Err(invalid(
                "registrar.default_expires",
                format!(
                    "{} must lie between min_expires {} and max_expires {}",
                    self.default_expires, self.min_expires, self.max_expires
                ),
            ));
        }
        Ok(())
    }
}

fn invalid(setting: &'static str, message: String) -> ConfigError {
    ConfigError::Invalid { setting, message }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sip: SipSettings::default(),
            media: MediaSettings::default(),
            database: DatabaseSettings::default(),
            flows: FlowSettings::default(),
            audio: AudioSettings::default(),
            http: HttpSettings::default(),
            tickets: TicketSettings::default(),
            lookups: Vec::new(),
            crm: crate::crm::sources::CrmSettings::default(),
            queue: QueueSettings::default(),
            queues: vec![demo_queue()],
            agents: Vec::new(),
            registrar: RegistrarSettings::default(),
            trunk: TrunkSettings::default(),
            limits: crate::server::limits::LimitSettings::default(),
            admission: crate::server::admission::AdmissionSettings::default(),
            webrtc: crate::webrtc::WebrtcSettings::default(),
            cluster: None,
        }
    }
}

/// The demo `support` queue: first-line agents first, the second line joins
/// after a minute; position announced every 30 s; a callback after 10 minutes
/// or when nobody is logged in.
fn demo_queue() -> crate::queue::QueueConfig {
    let toml = r#"
        name = "support"
        strategy = "skill_level"
        skills = ["support"]
        ring_timeout_seconds = 15
        escalation = [{ after_seconds = 0, max_level = 1 }, { after_seconds = 60, max_level = 2 }]
        announce_every_seconds = 30
        max_wait_seconds = 600
        on_max_wait = "callback"
        on_no_agents = "callback"
    "#;
    toml::from_str(toml).expect("the demo queue's TOML is valid")
}

impl Default for SipSettings {
    fn default() -> Self {
        SipSettings {
            listen: SocketAddr::from(([0, 0, 0, 0], 5060)),
            public_address: None,
            max_calls: 2000,
            retry_after_seconds: 30,
            country_code: "380".into(),
            user_agent: concat!("hotline/", env!("CARGO_PKG_VERSION")).into(),
            answer_delay_ms: 0,
            max_call_seconds: 3600,
            dns_servers: Vec::new(),
        }
    }
}

impl From<&MediaSettings> for crate::server::media::MediaOptions {
    fn from(settings: &MediaSettings) -> Self {
        crate::server::media::MediaOptions {
            inband_dtmf_always: settings.inband_dtmf_always,
            rtp_timeout: (settings.rtp_timeout_seconds > 0)
                .then(|| std::time::Duration::from_secs(settings.rtp_timeout_seconds)),
        }
    }
}

impl Default for MediaSettings {
    fn default() -> Self {
        MediaSettings {
            bind_address: IpAddr::from([0, 0, 0, 0]),
            public_address: None,
            port_min: 10000,
            port_max: 20000,
            inband_dtmf_always: false,
            rtp_timeout_seconds: 60,
            realtime_priority: 10,
        }
    }
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        DatabaseSettings {
            url: "sqlite://hotline.db".into(),
            seed_demo: true,
        }
    }
}

impl Default for FlowSettings {
    fn default() -> Self {
        FlowSettings {
            dir: "ivr-flows".into(),
            entry: "hotline".into(),
            reload_ms: 1000,
        }
    }
}

impl Default for AudioSettings {
    fn default() -> Self {
        AudioSettings {
            dir: "audio".into(),
            default_language: "en".into(),
        }
    }
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            tls_certificate: None,
            tls_key: None,
        }
    }
}

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sip {} (max {} calls), media {}:{}-{}, http {}, flows {}, audio {}",
            self.sip.listen,
            self.sip.max_calls,
            self.media.bind_address,
            self.media.port_min,
            self.media.port_max,
            self.http.listen,
            self.flows.dir.display(),
            self.audio.dir.display(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_file_gives_the_embedded_defaults() {
        let config = Config::load(None, &Overrides::default()).unwrap();
        assert_eq!(config.sip.listen, "0.0.0.0:5060".parse().unwrap());
        assert!(config.database.url.starts_with("sqlite://"));
    }

    #[test]
    fn a_callback_trunk_must_be_a_sip_uri_with_the_number_in_it() {
        let check = |dial: &str| {
            Config::from_toml(&format!("[queue]\ncallback_dial = \"{dial}\"\n"))
                .unwrap()
                .check()
                .map_err(|e| e.to_string())
        };
        assert!(check("sip:{number}@10.0.0.1:5060").is_ok());
        for bad in ["sip:gw.example", "tel:{number}", "{number}"] {
            let error = check(bad).unwrap_err();
            assert!(error.contains("queue.callback_dial"), "{bad}: {error}");
        }
    }

    #[test]
    fn tickets_go_into_a_declared_sql_source_or_to_a_webhook_not_both() {
        let check = |source: &str, extra: &str| {
            let toml = format!(
                "[[crm.sources]]\nname = \"billing\"\nkind = \"sql\"\nurl = \"mysql://crm/db\"\n\
                 [tickets.sql]\nsource = \"{source}\"\ninsert = \"INSERT INTO t (k) VALUES (?)\"\n\
                 params = [\"idempotency_key\"]\n{extra}"
            );
            Config::from_toml(&toml)
                .unwrap()
                .check()
                .map_err(|e| e.to_string())
        };
        assert!(check("billing", "").is_ok());
        let webhook = "[tickets.webhook]\nurl = \"http://crm/t\"\nsecret = \"s\"\n";
        let both = check("billing", webhook).unwrap_err();
        assert!(
            both.contains("tickets.sql") && both.contains("not both"),
            "{both}"
        );
        let elsewhere = check("erp", "").unwrap_err();
        assert!(elsewhere.contains("source `erp`"), "{elsewhere}");
    }

    #[test]
    fn unknown_key_is_named_in_the_error() {
        let error =
            Config::from_toml("[sip]\nlisten = \"127.0.0.1:5070\"\nmax_cals = 3\n").unwrap_err();
        assert!(error.contains("max_cals"), "{error}");
    }

    #[test]
    fn overrides_beat_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hotline.toml");
        std::fs::write(&path, "[sip]\nlisten = \"127.0.0.1:5070\"\n").unwrap();
        let overrides = Overrides {
            sip: Some("127.0.0.1:5080".parse().unwrap()),
            ..Overrides::default()
        };
        let config = Config::load(Some(&path), &overrides).unwrap();
        assert_eq!(config.sip.listen.port(), 5080);
    }

    #[test]
    fn database_url_of_unknown_kind_is_refused_by_name() {
        let overrides = Overrides {
            db: Some("mysql://localhost/x".into()),
            ..Overrides::default()
        };
        let error = Config::load(None, &overrides).unwrap_err().to_string();
        assert!(error.starts_with("setting `database.url`"), "{error}");
    }

    #[test]
    fn registrar_settings_are_read_and_checked_by_name() {
        let config = Config::from_toml(
            "[registrar]\nrealm = \"calls.example\"\nalgorithms = [\"MD5\"]\nmin_expires = 30\n",
        )
        .unwrap();
        config.check().unwrap();
        assert_eq!(config.registrar.realm, "calls.example");
        assert_eq!(
            config.registrar.algorithms,
            [crate::sip::digest::Algorithm::Md5]
        );
        let error = Config::from_toml("[registrar]\nalgorithms = [\"SHA-512\"]\n").unwrap_err();
        assert!(error.contains("SHA-512"), "{error}");
        let error = Config::from_toml("[registrar]\nmax_expire = 10\n").unwrap_err();
        assert!(error.contains("max_expire"), "{error}");
        for (toml, setting) in [
            ("default_expires = 10", "registrar.default_expires"),
            ("realm = \"a\\\"b\"", "registrar.realm"),
            ("algorithms = []", "registrar.algorithms"),
            ("max_failures = 0", "registrar.max_failures"),
        ] {
            let error = Config::from_toml(&format!("[registrar]\n{toml}\n"))
                .unwrap()
                .check()
                .unwrap_err()
                .to_string();
            assert!(error.contains(setting), "{toml}: {error}");
        }
    }

    #[test]
    fn empty_media_port_range_is_refused_by_name() {
        let error = Config::from_toml("[media]\nport_min = 20000\nport_max = 10000\n")
            .unwrap()
            .check()
            .unwrap_err()
            .to_string();
        assert!(error.contains("media.port_min"), "{error}");
    }

    #[test]
    fn a_tls_certificate_without_its_key_is_refused_by_name() {
        let error = Config::from_toml("[http]\ntls_certificate = \"cert.pem\"\n")
            .unwrap()
            .check()
            .unwrap_err()
            .to_string();
        assert!(error.contains("http.tls_certificate"), "{error}");
    }

    #[test]
    fn webrtc_settings_are_read_and_an_empty_range_refused() {
        let config = Config::from_toml(
            "[webrtc]\nbind_address = \"0.0.0.0\"\npublic_address = \"203.0.113.7\"\nport_min = 30000\nport_max = 30000\n",
        )
        .unwrap();
        assert_eq!(
            config.webrtc.public_address,
            Some(IpAddr::from([203, 0, 113, 7]))
        );
        assert!(config.check().is_ok());
        let error = Config::from_toml("[webrtc]\nport_min = 30001\nport_max = 30000\n")
            .unwrap()
            .check()
            .unwrap_err()
            .to_string();
        assert!(error.contains("webrtc.port_min"), "{error}");
        // Nothing is open unless asked for: off, and on loopback once enabled.
        let default = Config::from_toml("").unwrap().webrtc;
        assert!(!default.enabled);
        assert_eq!(default.bind_address, IpAddr::from([127, 0, 0, 1]));
        assert!(default.allowed_origins.is_empty() && default.customer_key.is_none());
    }

    #[test]
    fn an_admins_lookup_that_writes_is_refused_by_name() {
        let error =
            Config::from_toml("[[lookups]]\nname = \"wipe\"\nsql = \"DELETE FROM tickets\"\n")
                .unwrap()
                .check()
                .unwrap_err()
                .to_string();
        assert_eq!(
            error,
            "setting `lookups`: lookup `wipe` must be a SELECT (or WITH … SELECT) query"
        );
    }

    #[test]
    fn crm_sources_and_their_lookups_are_checked_together_by_name() {
        let sources = "[[crm.sources]]\nname = \"billing\"\nkind = \"sql\"\nurl = \"mysql://root@127.0.0.1/crm\"\n\
                       [[crm.sources]]\nname = \"rest\"\nkind = \"http\"\nbase_url = \"http://127.0.0.1:9/api\"\n";
        let check = |lookups: &str| {
            Config::from_toml(&format!("{sources}{lookups}"))
                .unwrap()
                .check()
                .map_err(|e| e.to_string())
        };
        let balance = "[[lookups]]\nname = \"balance\"\nsource = \"billing\"\n\
                       sql = \"SELECT amount FROM balances WHERE client = ?\"\nparams = [\"customer\"]\n";
        let error = check(balance).unwrap_err();
        assert!(error.contains("must map the field `amount`"), "{error}");
        let typed = format!(
            "{balance}fields = {{ amount = {{ type = \"money\", currency = \"UAH\" }} }}\n"
        );
        check(&typed).unwrap();
        let error = check(&typed.replace("\"billing\"", "\"ledger\"")).unwrap_err();
        assert!(
            error.contains("source `ledger`, which is not declared"),
            "{error}"
        );
        let error = check(&typed.replace("\"billing\"", "\"rest\"")).unwrap_err();
        assert!(
            error.contains("needs a `path` on http source `rest`"),
            "{error}"
        );
        let error = Config::from_toml(
            "[[crm.sources]]\nname = \"x\"\nkind = \"sql\"\nurl = \"mysql://h/d\"\npool = 3\n",
        )
        .unwrap_err();
        assert!(error.contains("pool"), "{error}");
    }

    #[test]
    fn the_catalog_names_builtin_and_admin_lookups_tickets_and_queues() {
        let config =
            Config::from_toml("[[lookups]]\nname = \"open_tickets\"\nsql = \"SELECT 1 AS n\"\n")
                .unwrap();
        let catalog = config.catalog();
        assert!(catalog.lookups.contains("balance"));
        assert!(catalog.lookups.contains("open_tickets"));
        assert!(catalog.ticket_types["meter_reading"].contains("reading"));
        assert!(catalog.queues.contains("support"));
    }
}

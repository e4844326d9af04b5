//! A CRM's HTTP API: requests built from a lookup's template, JSON answers
//! read up to a size limit, retried only when the request is a read.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;
use serde_json::Value as Json;

use super::SourceError;
use super::breaker::BreakerSettings;
use crate::crm::self_service::CustomQuery;
use crate::flow::{Value, Values};

/// A source of `kind = "http"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    pub name: String,
    /// Where lookup paths start, e.g. `https://crm.example/api/`.
    pub base_url: String,
    /// Sent with every request; `${VARIABLE}` is replaced by that environment
    /// variable, so secrets stay out of the file (and out of every log).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// How long one request may take, in milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Further tries of a read (GET, HEAD) that failed on the network or
    /// with a 5xx; requests that could change something are never retried.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// Larger responses are cut off and the lookup fails.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// When the circuit opens (`{ failures_to_open, cool_down_ms }`).
    #[serde(default = "super::default_circuit")]
    pub circuit: BreakerSettings,
}

fn default_timeout_ms() -> u64 {
    3_000
}
fn default_retries() -> u32 {
    1
}
fn default_max_body_bytes() -> usize {
    1 << 20
}

/// Characters of a parameter sent as they are; everything else is %-encoded.
const PARAMETER: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

impl HttpSettings {
    /// Why the settings cannot work.
    pub fn problem(&self) -> Option<String> {
        let scheme_ok =
            self.base_url.starts_with("http://") || self.base_url.starts_with("https://");
        if !scheme_ok {
            return Some(format!(
                "base_url `{}` is not http:// or https://",
                self.base_url
            ));
        }
        (self.timeout_ms == 0).then(|| "needs a timeout_ms of at least 1".into())
    }
}

/// The client of one HTTP source, its headers resolved.
pub struct HttpSource {
    client: reqwest::Client,
    base_url: String,
    retries: u32,
    max_body_bytes: usize,
}

impl HttpSource {
    /// Builds the client; a header naming an unset variable is an error.
    pub fn new(settings: &HttpSettings) -> Result<HttpSource, String> {
        let mut headers = HeaderMap::new();
        for (name, template) in &settings.headers {
            let (name, value) = secret_header(name, template)?;
            headers.insert(name, value);
        }
        let client = reqwest::Client::builder()
            .default_headers(headers)
            .timeout(Duration::from_millis(settings.timeout_ms))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(HttpSource {
            client,
            base_url: settings.base_url.trim_end_matches('/').to_owned(),
            retries: settings.retries,
            max_body_bytes: settings.max_body_bytes,
        })
    }

    /// The lookup's JSON answer, `None` on 404; within `limit` in all, retries included.
    pub async fn fetch(
        &self,
        lookup: &CustomQuery,
        params: &Values,
        limit: Duration,
    ) -> Result<Option<Json>, SourceError> {
        let path = lookup.path.as_deref().unwrap_or_default();
        let url = format!("{}/{}", self.base_url, fill_path(path, params));
        let method = method(lookup.method.as_deref(), "GET").map_err(SourceError::Unavailable)?;
        let idempotent_read = method == reqwest::Method::GET || method == reqwest::Method::HEAD;
        let body = lookup
            .body
            .as_ref()
            .map(|template| fill_json(template, params));
        let deadline = Instant::now() + limit;
        let mut tries_left = if idempotent_read { self.retries } else { 0 };
        loop {
            let mut request = self
                .client
                .request(method.clone(), &url)
                .timeout(deadline.saturating_duration_since(Instant::now()));
            if let Some(body) = &body {
                request = request.json(body);
            }
            let failure = match request.send().await {
                Ok(response) if response.status() == reqwest::StatusCode::NOT_FOUND => {
                    return Ok(None);
                }
                Ok(response) if response.status().is_success() => {
                    return self.read_json(response).await.map(Some);
                }
                Ok(response) if response.status().is_server_error() => {
                    format!("HTTP {}", response.status())
                }
                Ok(response) => {
                    // A 4xx will not get better by asking again.
                    return Err(SourceError::Unavailable(format!(
                        "HTTP {}",
                        response.status()
                    )));
                }
                // Without the URL: its path may hold a caller's number.
                Err(error) => error.without_url().to_string(),
            };
            if tries_left == 0 || Instant::now() >= deadline {
                return Err(SourceError::Unavailable(failure));
            }
            tries_left -= 1;
        }
    }

    /// Reads the body up to the limit and parses it as JSON.
    async fn read_json(&self, mut response: reqwest::Response) -> Result<Json, SourceError> {
        let too_large = || {
            SourceError::Unavailable(format!(
                "response body larger than {} bytes",
                self.max_body_bytes
            ))
        };
        if response
            .content_length()
            .is_some_and(|n| n > self.max_body_bytes as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| SourceError::Unavailable(e.without_url().to_string()))?
        {
            if body.len() + chunk.len() > self.max_body_bytes {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body)
            .map_err(|e| SourceError::Unavailable(format!("response is not JSON: {e}")))
    }
}

/// The method named, or `default`.
pub(crate) fn method(given: Option<&str>, default: &str) -> Result<reqwest::Method, String> {
    let method = given.unwrap_or(default).to_ascii_uppercase();
    reqwest::Method::from_bytes(method.as_bytes()).map_err(|_| format!("bad method `{method}`"))
}

/// A header whose `${NAME}`s are replaced from the environment, marked
/// sensitive so that it stays out of Debug output and every log.
pub(crate) fn secret_header(
    name: &str,
    template: &str,
) -> Result<(HeaderName, HeaderValue), String> {
    let value = expand_env(template, |var| std::env::var(var).ok())
        .map_err(|var| format!("header `{name}` needs the environment variable {var}"))?;
    let name = HeaderName::try_from(name).map_err(|_| format!("`{name}` is not a header name"))?;
    let mut value = HeaderValue::try_from(value)
        .map_err(|_| format!("header `{name}` has a value that cannot be sent"))?;
    value.set_sensitive(true);
    Ok((name, value))
}

/// `${NAME}` replaced by `lookup(NAME)`; the name of the first unset variable as the error.
fn expand_env(template: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        let Some(end) = rest[start..].find('}') else {
            break;
        };
        let name = &rest[start + 2..start + end];
        out.push_str(&rest[..start]);
        out.push_str(&lookup(name).ok_or_else(|| name.to_owned())?);
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A path template with each `{param}` replaced by its value, %-encoded.
fn fill_path(template: &str, params: &Values) -> String {
    fill(template, params, |value| {
        utf8_percent_encode(value, PARAMETER).to_string()
    })
}

/// A JSON body template with `{param}` in its strings replaced by the values.
pub(crate) fn fill_json(template: &Json, params: &Values) -> Json {
    match template {
        Json::String(s) => Json::String(fill(s, params, str::to_owned)),
        Json::Array(items) => Json::Array(items.iter().map(|i| fill_json(i, params)).collect()),
        Json::Object(map) => Json::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), fill_json(v, params)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn fill(template: &str, params: &Values, encode: impl Fn(&str) -> String) -> String {
    let mut out = template.to_owned();
    for (name, value) in params {
        let placeholder = format!("{{{name}}}");
        if out.contains(&placeholder) {
            out = out.replace(&placeholder, &encode(&Value::to_string(value)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Values {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Value::Text(v.to_string())))
            .collect()
    }

    /// A server that answers every request with `response` and counts them.
    async fn answering(response: &'static str) -> (String, Arc<AtomicUsize>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let count = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&count);
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                seen.fetch_add(1, Ordering::SeqCst);
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request).await;
                let _ = stream.write_all(response.as_bytes()).await;
            }
        });
        (url, count)
    }

    fn source(base_url: String, max_body_bytes: usize) -> HttpSource {
        HttpSource::new(&HttpSettings {
            name: "crm".into(),
            base_url,
            headers: BTreeMap::new(),
            timeout_ms: 2_000,
            retries: 1,
            max_body_bytes,
            circuit: BreakerSettings::default(),
        })
        .unwrap()
    }

    /// The error of a `method` lookup on `crm`, which must fail.
    async fn failure(crm: &HttpSource, method: &str) -> String {
        let lookup = CustomQuery {
            name: "balance".into(),
            method: Some(method.into()),
            path: Some("balance".into()),
            ..CustomQuery::default()
        };
        let limit = Duration::from_secs(2);
        let result = crm.fetch(&lookup, &Values::new(), limit).await;
        result.unwrap_err().to_string()
    }

    const UNAVAILABLE: &str =
        "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";

    #[tokio::test]
    async fn a_failed_read_is_tried_again_but_a_post_is_sent_once() {
        let (url, count) = answering(UNAVAILABLE).await;
        let crm = source(url, 1024);
        assert_eq!(failure(&crm, "GET").await, "HTTP 503 Service Unavailable");
        assert_eq!(count.load(Ordering::SeqCst), 2, "GET tried twice");
        failure(&crm, "POST").await;
        assert_eq!(count.load(Ordering::SeqCst), 3, "POST sent once");
    }

    #[tokio::test]
    async fn a_body_beyond_the_limit_is_cut_off() {
        let response = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n\
                        {\"balance\": \"1234567890123456789012345678901234567890\"}";
        let (url, _) = answering(response).await;
        let crm = source(url, 16);
        assert_eq!(
            failure(&crm, "GET").await,
            "response body larger than 16 bytes"
        );
    }

    #[test]
    fn path_parameters_are_url_encoded() {
        let p = params(&[("phone", "+380 44/12?x=1"), ("id", "c-1")]);
        assert_eq!(
            fill_path("customers/by-phone/{phone}?ref={id}", &p),
            "customers/by-phone/%2B380%2044%2F12%3Fx%3D1?ref=c-1"
        );
    }

    #[test]
    fn body_templates_take_parameters_in_strings() {
        let template =
            serde_json::json!({"account": "{account}", "tags": ["ivr", "{kind}"], "n": 1});
        let filled = fill_json(
            &template,
            &params(&[("account", "100200300"), ("kind", "x")]),
        );
        assert_eq!(
            filled,
            serde_json::json!({"account": "100200300", "tags": ["ivr", "x"], "n": 1})
        );
    }

    #[test]
    fn secrets_come_from_the_environment_and_a_missing_one_is_named() {
        let env = |name: &str| (name == "CRM_TOKEN").then(|| "s3cret".to_owned());
        assert_eq!(
            expand_env("Bearer ${CRM_TOKEN}", env).unwrap(),
            "Bearer s3cret"
        );
        assert_eq!(expand_env("${NOPE}", env).unwrap_err(), "NOPE");
    }

    #[test]
    fn header_values_are_kept_out_of_debug_output() {
        let settings = HttpSettings {
            name: "crm".into(),
            base_url: "http://127.0.0.1:9/".into(),
            headers: BTreeMap::from([("Authorization".into(), "Bearer literal-secret".into())]),
            timeout_ms: 100,
            retries: 0,
            max_body_bytes: 10,
            circuit: BreakerSettings::default(),
        };
        let source = HttpSource::new(&settings).unwrap();
        let shown = format!("{:?}", source.client);
        assert!(!shown.contains("literal-secret"), "{shown}");
    }
}

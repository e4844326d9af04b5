//! The `Authorization: Digest …` header (RFC 7616 §3.4, RFC 3261 §25.1).
//!
//! Parsed as phones really write it: parameter names in any case, spaces
//! (even doubled) around `=` and `,`, values quoted or not (some phones quote
//! `qop` and `algorithm`), backslash escapes in quoted strings, and
//! parameters we do not know ignored.

use super::Algorithm;

/// The credentials of one `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub realm: String,
    pub nonce: String,
    /// The digest URI, as the phone wrote it.
    pub uri: String,
    pub response: String,
    /// MD5 when the header names none (RFC 2617 §3.2.2).
    pub algorithm: Algorithm,
    pub cnonce: Option<String>,
    /// The nonce count, sent as 8 hex digits.
    pub nc: Option<u32>,
    pub qop: Option<String>,
    pub opaque: Option<String>,
}

/// Why a header value is not usable digest credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    #[error("not the Digest scheme")]
    NotDigest,
    #[error("malformed digest credentials: {0}")]
    Syntax(String),
    #[error("digest credentials without `{0}`")]
    Missing(&'static str),
    #[error("digest parameter `{0}` given twice")]
    Duplicate(String),
    #[error("invalid digest `{param}`: `{value}`")]
    Invalid { param: &'static str, value: String },
    /// An algorithm we do not offer (e.g. `MD5-sess`): answered with a new challenge.
    #[error("unsupported digest algorithm `{0}`")]
    UnsupportedAlgorithm(String),
}

impl Credentials {
    /// Parses an `Authorization` (or `Proxy-Authorization`) header value.
    pub fn parse(value: &str) -> Result<Credentials, CredentialsError> {
        let params = digest_params(value)?;
        let get = |name: &str| param(&params, name);
        let required = |name: &'static str| get(name).ok_or(CredentialsError::Missing(name));
        if get("userhash").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            // We never offer userhash (RFC 7616 §3.4.4), so a phone must not use it.
            return Err(CredentialsError::Invalid {
                param: "userhash",
                value: "true".into(),
            });
        }
        let algorithm = algorithm_param(&params)?;
        let nc = get("nc")
            .map(|nc| {
                let valid = nc.len() == 8 && nc.bytes().all(|b| b.is_ascii_hexdigit());
                valid
                    .then(|| u32::from_str_radix(&nc, 16).ok())
                    .flatten()
                    .ok_or(CredentialsError::Invalid {
                        param: "nc",
                        value: nc,
                    })
            })
            .transpose()?;
        Ok(Credentials {
            username: required("username")?,
            realm: required("realm")?,
            nonce: required("nonce")?,
            uri: required("uri")?,
            response: required("response")?,
            algorithm,
            cnonce: get("cnonce"),
            nc,
            qop: get("qop"),
            opaque: get("opaque"),
        })
    }
}

/// The parameters of a `Digest …` header value (credentials or challenge).
pub(super) fn digest_params(value: &str) -> Result<Vec<(String, String)>, CredentialsError> {
    let value = value.trim_start();
    let scheme_end = value
        .find(|c: char| c.is_ascii_whitespace())
        .unwrap_or(value.len());
    if !value[..scheme_end].eq_ignore_ascii_case("Digest") {
        return Err(CredentialsError::NotDigest);
    }
    parse_params(&value[scheme_end..])
}

/// A parameter's value, its name in any case.
pub(super) fn param(params: &[(String, String)], name: &str) -> Option<String> {
    params
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
}

/// The `algorithm` parameter: MD5 when absent (RFC 2617 §3.2.2).
pub(super) fn algorithm_param(params: &[(String, String)]) -> Result<Algorithm, CredentialsError> {
    match param(params, "algorithm") {
        None => Ok(Algorithm::Md5),
        Some(token) => {
            Algorithm::from_token(&token).ok_or(CredentialsError::UnsupportedAlgorithm(token))
        }
    }
}

/// Splits `name=value, name="quoted, value", …` into pairs, unquoting values.
pub(super) fn parse_params(text: &str) -> Result<Vec<(String, String)>, CredentialsError> {
    let mut params: Vec<(String, String)> = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == ',');
        if rest.is_empty() {
            return Ok(params);
        }
        let name_end = rest.find(|c: char| !is_token_char(c)).unwrap_or(rest.len());
        let name = &rest[..name_end];
        if name.is_empty() {
            return Err(syntax(rest));
        }
        rest = rest[name_end..].trim_start();
        rest = rest
            .strip_prefix('=')
            .ok_or_else(|| syntax(rest))?
            .trim_start();
        let (value, after) = match rest.strip_prefix('"') {
            Some(quoted) => unquote(quoted).ok_or_else(|| syntax(rest))?,
            None => {
                let end = rest
                    .find(|c: char| c == ',' || c.is_ascii_whitespace())
                    .unwrap_or(rest.len());
                (rest[..end].to_owned(), &rest[end..])
            }
        };
        let after = after.trim_start();
        if !(after.is_empty() || after.starts_with(',')) {
            return Err(syntax(after));
        }
        if params.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
            return Err(CredentialsError::Duplicate(name.to_owned()));
        }
        params.push((name.to_owned(), value));
        rest = after;
    }
}

/// The value of a quoted string (after its opening quote) and the text after it.
fn unquote(text: &str) -> Option<(String, &str)> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => value.push(chars.next()?.1),
            '"' => return Some((value, &text[i + 1..])),
            c => value.push(c),
        }
    }
    None
}

/// RFC 3261 §25.1 token characters.
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c)
}

fn syntax(at: &str) -> CredentialsError {
    let excerpt: String = at.chars().take(24).collect();
    CredentialsError::Syntax(format!("at `{excerpt}`"))
}

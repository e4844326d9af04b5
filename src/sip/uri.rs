//! Parsing URIs, name-addrs, host:port and parameters (RFC 3261 §19, §25; RFC 3966).

use std::net::{Ipv4Addr, Ipv6Addr};

use super::message::{Host, NameAddr, Params, SipUri, TelUri, Uri};

/// Parses a URI as written in a request line or inside `<...>`.
pub fn parse_uri(text: &str) -> Result<Uri, String> {
    let text = text.trim();
    if text == "*" {
        return Ok(Uri::Other("*".into()));
    }
    let (scheme, rest) = text
        .split_once(':')
        .ok_or_else(|| format!("no scheme in `{text}`"))?;
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    {
        return Err(format!("invalid scheme in `{text}`"));
    }
    if text.contains(|c: char| c.is_whitespace()) {
        return Err(format!("whitespace in URI `{text}`"));
    }
    // `<`, `>` and `"` delimit a URI inside a header value and are never
    // allowed in one unescaped (RFC 3261 §25.1, RFC 3986 §2.2). A URI holding
    // one could not be written back inside `<...>` and read the same, so it is
    // refused here rather than misread after a round trip.
    if text.contains(['<', '>', '"']) {
        return Err(format!("`<`, `>` or `\"` in URI `{text}`"));
    }
    match scheme.to_ascii_lowercase().as_str() {
        "sip" => parse_sip_uri(rest, false).map(Uri::Sip),
        "sips" => parse_sip_uri(rest, true).map(Uri::Sip),
        "tel" => parse_tel_uri(rest).map(Uri::Tel),
        _ => Ok(Uri::Other(text.to_owned())),
    }
}

fn parse_sip_uri(rest: &str, secure: bool) -> Result<SipUri, String> {
    // The user part ends at the last '@' (an unescaped '@' cannot appear in it,
    // but '?', ':' and ';' can: RFC 4475 intmeth).
    let (userinfo, hostpart) = match rest.rfind('@') {
        Some(i) => (Some(&rest[..i]), &rest[i + 1..]),
        None => (None, rest),
    };
    let (hostpart, headers) = match hostpart.split_once('?') {
        Some((h, q)) => (h, Some(q.to_owned())),
        None => (hostpart, None),
    };
    let (user, password) = match userinfo {
        Some(info) => match info.split_once(':') {
            Some((u, p)) => (Some(u.to_owned()), Some(p.to_owned())),
            None => (Some(info.to_owned()), None),
        },
        None => (None, None),
    };
    if user.as_deref() == Some("") {
        return Err("empty user part".into());
    }
    let (hostport, params) = match hostpart.find(';') {
        Some(i) => (&hostpart[..i], &hostpart[i..]),
        None => (hostpart, ""),
    };
    let (host, port) = parse_host_port(hostport)?;
    Ok(SipUri {
        secure,
        user,
        password,
        host,
        port,
        params: parse_params(params)?,
        headers,
    })
}

fn parse_tel_uri(rest: &str) -> Result<TelUri, String> {
    let (number, params) = match rest.find(';') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let valid = !number.is_empty()
        && number
            .chars()
            .all(|c| c.is_ascii_hexdigit() || "+-.()*#".contains(c));
    if !valid {
        return Err(format!("invalid telephone number `{number}`"));
    }
    Ok(TelUri {
        number: number.to_owned(),
        params: parse_params(params)?,
    })
}

/// Parses `host`, `host:port`, `[v6]` or `[v6]:port`.
pub fn parse_host_port(text: &str) -> Result<(Host, Option<u16>), String> {
    let text = text.trim();
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (v6, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("unclosed IPv6 reference `{text}`"))?;
        let address: Ipv6Addr = v6
            .parse()
            .map_err(|_| format!("invalid IPv6 address `{v6}`"))?;
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| format!("junk after `{v6}`"))?,
            ),
        };
        (Host::Ipv6(address), port)
    } else {
        let (host, port) = match text.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (text, None),
        };
        (parse_host(host)?, port)
    };
    let port = port
        .map(|p| {
            p.trim()
                .parse::<u16>()
                .map_err(|_| format!("invalid port `{p}`"))
        })
        .transpose()?;
    Ok((host, port))
}

fn parse_host(text: &str) -> Result<Host, String> {
    if text.is_empty() {
        return Err("empty host".into());
    }
    if let Ok(v4) = text.parse::<Ipv4Addr>() {
        return Ok(Host::Ipv4(v4));
    }
    let valid = text
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
    if !valid {
        return Err(format!("invalid host `{text}`"));
    }
    Ok(Host::Name(text.to_owned()))
}

/// Parses `;a=b;c` into parameters; an empty string gives none.
pub fn parse_params(text: &str) -> Result<Params, String> {
    let mut params = Vec::new();
    for piece in split_outside_quotes(text, ';')
        .into_iter()
        .skip_while(|p| p.trim().is_empty())
    {
        let piece = piece.trim();
        if piece.is_empty() {
            continue;
        }
        match piece.split_once('=') {
            Some((name, value)) => {
                params.push((name.trim().to_owned(), Some(value.trim().to_owned())))
            }
            None => params.push((piece.to_owned(), None)),
        }
    }
    if params.iter().any(|(name, _)| name.is_empty()) {
        return Err(format!("empty parameter name in `{text}`"));
    }
    Ok(Params(params))
}

/// Parses a From/To/Contact/Route value: `"Name" <uri>;params`, `Name <uri>`, or a bare addr-spec.
pub fn parse_name_addr(text: &str) -> Result<NameAddr, String> {
    let text = text.trim();
    if let Some(open) = find_outside_quotes(text, '<') {
        let display = text[..open].trim();
        let close = text[open..]
            .find('>')
            .map(|i| open + i)
            .ok_or_else(|| format!("unclosed `<` in `{text}`"))?;
        let uri = parse_uri(&text[open + 1..close])?;
        let params = parse_params(&text[close + 1..])?;
        let display_name = parse_display_name(display)?;
        return Ok(NameAddr {
            display_name,
            uri,
            params,
        });
    }
    // addr-spec: parameters after the URI belong to the header (RFC 3261 §20.10).
    let (uri, params) = match text.find(';') {
        Some(i) => (&text[..i], &text[i..]),
        None => (text, ""),
    };
    Ok(NameAddr {
        display_name: None,
        uri: parse_uri(uri)?,
        params: parse_params(params)?,
    })
}

fn parse_display_name(text: &str) -> Result<Option<String>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    if let Some(inner) = text.strip_prefix('"') {
        let inner = inner
            .strip_suffix('"')
            .ok_or_else(|| format!("unbalanced quotes in `{text}`"))?;
        let mut name = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => name.push(chars.next().ok_or("dangling escape")?),
                '"' => return Err(format!("unescaped quote in `{text}`")),
                c => name.push(c),
            }
        }
        return Ok(Some(name));
    }
    if text.contains('"') {
        return Err(format!("unbalanced quotes in `{text}`"));
    }
    Ok(Some(text.to_owned()))
}

/// Parses a comma-separated list of name-addrs.
pub fn parse_name_addr_list(text: &str) -> Result<Vec<NameAddr>, String> {
    split_list(text).into_iter().map(parse_name_addr).collect()
}

/// Splits a header value on commas outside quotes and angle brackets.
pub fn split_list(text: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let mut depth = 0i32;
    let mut quoted = false;
    let mut escaped = false;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '<' if !quoted => depth += 1,
            '>' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                items.push(text[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(text[start..].trim());
    items.into_iter().filter(|item| !item.is_empty()).collect()
}

fn split_outside_quotes(text: &str, separator: char) -> Vec<&str> {
    let mut items = Vec::new();
    let mut quoted = false;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            c if c == separator && !quoted => {
                items.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&text[start..]);
    items
}

fn find_outside_quotes(text: &str, wanted: char) -> Option<usize> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == wanted && !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_host_with_port() {
        let Uri::Sip(uri) = parse_uri("sip:alice@[2001:db8::10]:5070;transport=tcp").unwrap()
        else {
            panic!("not sip")
        };
        assert_eq!(uri.host, Host::Ipv6("2001:db8::10".parse().unwrap()));
        assert_eq!(uri.port, Some(5070));
        assert_eq!(uri.params.value("transport"), Some("tcp"));
    }

    #[test]
    fn tel_uri_keeps_visual_separators() {
        let Uri::Tel(tel) = parse_uri("tel:+1-201-555-0123;phone-context=example.com").unwrap()
        else {
            panic!("not tel")
        };
        assert_eq!(tel.number, "+1-201-555-0123");
        assert_eq!(tel.params.value("phone-context"), Some("example.com"));
    }

    #[test]
    fn display_name_with_escaped_quote_and_comma_in_list() {
        let list = parse_name_addr_list(
            r#""Kovalenko, \"Olena\"" <sip:o@a.example>;tag=1, <sip:b@b.example>"#,
        )
        .unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(
            list[0].display_name.as_deref(),
            Some(r#"Kovalenko, "Olena""#)
        );
        assert_eq!(list[0].params.value("tag"), Some("1"));
    }

    #[test]
    fn addr_spec_parameters_belong_to_the_header() {
        let addr = parse_name_addr("sip:bob@example.com;tag=abc").unwrap();
        assert_eq!(addr.params.value("tag"), Some("abc"));
    }

    #[test]
    fn garbage_uris_are_errors_not_panics() {
        for text in [
            "",
            ":",
            "sip:",
            "sip:@",
            "sip:[::1",
            "sip:a@b:99999",
            "sip:a b@c",
            "tel:abc;x",
        ] {
            let _ = parse_uri(text);
        }
        assert!(parse_uri("sip:a@b:99999").is_err());
        assert!(parse_uri("sip:[::1").is_err());
    }
}

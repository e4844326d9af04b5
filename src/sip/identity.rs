//! Who is calling: the caller's number, normalised to E.164, and masked for logs.

use super::message::{Request, Uri};

/// The caller's number: from P-Asserted-Identity (set by a trusted carrier),
/// else from From. `None` when neither carries something number-like.
pub fn caller_number(request: &Request) -> Option<String> {
    let asserted = request
        .head
        .header("P-Asserted-Identity")
        .and_then(|value| super::uri::parse_name_addr_list(value).ok())
        .and_then(|list| list.into_iter().find_map(|addr| uri_number(&addr.uri)));
    asserted.or_else(|| uri_number(&request.head.from.uri))
}

fn uri_number(uri: &Uri) -> Option<String> {
    let user = uri.user()?;
    // A sip user part may carry parameters (`;isub=`) and escapes; keep the number.
    let user = user.split(';').next().unwrap_or(user);
    let user = user.replace("%2B", "+").replace("%2b", "+");
    user.chars().any(|c| c.is_ascii_digit()).then_some(user)
}

/// Normalises a dialled or presented number to E.164 (`+` and digits), using
/// `country_code` for national numbers with a trunk prefix `0`. `None` for
/// anything that is not a telephone number (letters, empty).
pub fn normalize_e164(raw: &str, country_code: &str) -> Option<String> {
    let mut digits = String::new();
    let mut plus = false;
    for (i, c) in raw.trim().chars().enumerate() {
        match c {
            '+' if i == 0 => plus = true,
            '0'..='9' => digits.push(c),
            '-' | '.' | '(' | ')' | ' ' => {}
            _ => return None,
        }
    }
    if digits.is_empty() {
        return None;
    }
    let international = if plus {
        digits
    } else if let Some(rest) = digits.strip_prefix("00") {
        rest.to_owned()
    } else if let Some(rest) = digits.strip_prefix('0') {
        format!("{country_code}{rest}")
    } else if digits.starts_with(country_code) && digits.len() > 9 {
        digits
    } else {
        return Some(digits); // a short or internal number: kept as dialled
    };
    (7..=15)
        .contains(&international.len())
        .then(|| format!("+{international}"))
}

/// A number with its middle hidden, for logs: `+38044*****567`.
pub fn mask_number(number: &str) -> String {
    let chars: Vec<char> = number.chars().collect();
    if chars.len() <= 4 {
        return "*".repeat(chars.len());
    }
    let (keep_start, keep_end) = if chars.len() >= 10 { (6, 3) } else { (2, 2) };
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if i < keep_start || i >= chars.len() - keep_end {
                *c
            } else {
                '*'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn national_and_international_forms_normalise_to_e164() {
        assert_eq!(
            normalize_e164("0441234567", "380").as_deref(),
            Some("+380441234567")
        );
        assert_eq!(
            normalize_e164("00380441234567", "380").as_deref(),
            Some("+380441234567")
        );
        assert_eq!(
            normalize_e164("+380 (44) 123-45-67", "380").as_deref(),
            Some("+380441234567")
        );
        assert_eq!(
            normalize_e164("380441234567", "380").as_deref(),
            Some("+380441234567")
        );
        assert_eq!(normalize_e164("anonymous", "380"), None);
        assert_eq!(normalize_e164("1001", "380").as_deref(), Some("1001"));
    }

    #[test]
    fn masked_numbers_hide_the_middle() {
        assert_eq!(mask_number("+380441234567"), "+38044****567");
        assert_eq!(mask_number("1001"), "****");
    }

    #[test]
    fn asserted_identity_wins_over_from() {
        let text = "INVITE sip:h@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bK1\r\n\
                    From: <sip:anonymous@anonymous.invalid>;tag=1\r\nTo: <sip:h@127.0.0.1>\r\n\
                    Call-ID: c\r\nCSeq: 1 INVITE\r\n\
                    P-Asserted-Identity: \"Olena\" <tel:+380441234567>\r\nContent-Length: 0\r\n\r\n";
        let crate::sip::Message::Request(request) = crate::sip::parse(text.as_bytes()).unwrap()
        else {
            panic!("not a request")
        };
        assert_eq!(caller_number(&request).as_deref(), Some("+380441234567"));
    }
}

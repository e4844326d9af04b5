//! DTMF carried in SIP INFO bodies: `application/dtmf-relay` and `application/dtmf`.

/// Why an INFO body carried no digit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InfoError {
    #[error("INFO content type `{0}` carries no DTMF")]
    UnsupportedType(String),
    #[error("INFO body has no Signal line")]
    NoSignal,
    #[error("`{0}` is not a DTMF digit")]
    InvalidDigit(String),
}

/// The digit in an INFO body of the given Content-Type.
///
/// `application/dtmf-relay`: `Signal=5` (spacing and case vary between
/// phones; some send `10`/`11` for `*`/`#`). `application/dtmf`: the digit or
/// its event code alone.
pub fn parse_info_body(content_type: &str, body: &[u8]) -> Result<char, InfoError> {
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let text = String::from_utf8_lossy(body);
    match media_type.as_str() {
        "application/dtmf-relay" => {
            let signal = text
                .lines()
                .filter_map(|line| line.split_once('='))
                .find(|(name, _)| name.trim().eq_ignore_ascii_case("signal"))
                .map(|(_, value)| value.trim().to_owned())
                .ok_or(InfoError::NoSignal)?;
            digit_of(&signal)
        }
        "application/dtmf" => digit_of(text.trim()),
        _ => Err(InfoError::UnsupportedType(content_type.to_owned())),
    }
}

fn digit_of(value: &str) -> Result<char, InfoError> {
    let invalid = || InfoError::InvalidDigit(value.chars().take(16).collect());
    let mut chars = value.chars();
    match (chars.next(), chars.next()) {
        (Some(c @ ('0'..='9' | '*' | '#')), None) => Ok(c),
        (Some(c @ ('a'..='d' | 'A'..='D')), None) => Ok(c.to_ascii_uppercase()),
        _ => value
            .parse::<u8>()
            .ok()
            .and_then(super::rfc4733::digit_for)
            .ok_or_else(invalid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtmf_relay_bodies_in_the_forms_phones_send() {
        for (body, digit) in [
            ("Signal=5\r\nDuration=160\r\n", '5'),
            ("signal= 9\nduration=100", '9'),
            ("Signal = *\r\nDuration= 250\r\n", '*'),
            ("Signal=#\r\n", '#'),
            ("Signal=10\r\nDuration=160\r\n", '*'),
            ("Signal=11\r\n", '#'),
            ("Signal=d\r\n", 'D'),
        ] {
            assert_eq!(
                parse_info_body("application/dtmf-relay", body.as_bytes()),
                Ok(digit),
                "{body:?}"
            );
        }
    }

    #[test]
    fn application_dtmf_bodies_carry_the_digit_or_its_code() {
        assert_eq!(parse_info_body("application/dtmf", b"7"), Ok('7'));
        assert_eq!(
            parse_info_body("Application/DTMF; charset=x", b" 11\r\n"),
            Ok('#')
        );
    }

    #[test]
    fn other_types_and_garbage_are_clear_errors() {
        assert!(matches!(
            parse_info_body("application/sdp", b"v=0"),
            Err(InfoError::UnsupportedType(_))
        ));
        assert_eq!(
            parse_info_body("application/dtmf-relay", b"Duration=160"),
            Err(InfoError::NoSignal)
        );
        assert!(matches!(
            parse_info_body("application/dtmf-relay", b"Signal=55"),
            Err(InfoError::InvalidDigit(_))
        ));
        assert!(matches!(
            parse_info_body("application/dtmf", b"\xff\xfe"),
            Err(InfoError::InvalidDigit(_))
        ));
    }
}

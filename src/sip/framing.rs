//! Splitting a TCP byte stream into SIP messages (RFC 3261 §18.3).
//!
//! On a stream the Content-Length header is mandatory and is the only way to
//! find where a message ends. CRLF keep-alives (RFC 5626 §3.5.1) between
//! messages are skipped.

use super::parse::{MAX_MESSAGE_SIZE, canonical_name};

/// A stream that cannot be split into messages; the connection must be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    #[error("message on a stream without Content-Length")]
    MissingContentLength,
    #[error("invalid Content-Length `{0}`")]
    InvalidContentLength(String),
    #[error("message larger than {MAX_MESSAGE_SIZE} bytes")]
    TooLarge,
}

/// Accumulates stream bytes and yields complete messages.
#[derive(Debug, Default)]
pub struct StreamFramer {
    buffer: Vec<u8>,
    failed: bool,
}

impl StreamFramer {
    /// An empty framer.
    pub fn new() -> StreamFramer {
        StreamFramer::default()
    }

    /// Adds bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// Whether part of a message is waiting for the rest (call after
    /// [`Self::next_message`] returned `None`; keep-alive CRLFs are not counted).
    pub fn has_partial(&self) -> bool {
        !self.failed && self.buffer.iter().any(|b| *b != b'\r' && *b != b'\n')
    }

    /// The next complete message, an error (after which nothing more comes),
    /// or `None` until more bytes arrive.
    pub fn next_message(&mut self) -> Option<Result<Vec<u8>, FramingError>> {
        if self.failed {
            return None;
        }
        let skip = self
            .buffer
            .iter()
            .position(|b| *b != b'\r' && *b != b'\n')
            .unwrap_or(self.buffer.len());
        self.buffer.drain(..skip);
        let Some(head_end) = find(&self.buffer, b"\r\n\r\n") else {
            if self.buffer.len() > MAX_MESSAGE_SIZE {
                return Some(self.fail(FramingError::TooLarge));
            }
            return None;
        };
        let body_start = head_end + 4;
        let length = match content_length(&self.buffer[..head_end]) {
            Ok(length) => length,
            Err(error) => return Some(self.fail(error)),
        };
        // Checked: a peer may declare a Content-Length near usize::MAX.
        let total = match body_start.checked_add(length) {
            Some(total) if total <= MAX_MESSAGE_SIZE => total,
            _ => return Some(self.fail(FramingError::TooLarge)),
        };
        if self.buffer.len() < total {
            return None;
        }
        let message: Vec<u8> = self.buffer.drain(..total).collect();
        Some(Ok(message))
    }

    fn fail(&mut self, error: FramingError) -> Result<Vec<u8>, FramingError> {
        self.failed = true;
        self.buffer.clear();
        Err(error)
    }
}

fn content_length(head: &[u8]) -> Result<usize, FramingError> {
    let text = String::from_utf8_lossy(head);
    for line in text.split("\r\n").skip(1) {
        if let Some((name, value)) = line.split_once(':')
            && canonical_name(name.trim()) == "Content-Length"
        {
            let value = value.trim();
            return value
                .parse()
                .map_err(|_| FramingError::InvalidContentLength(value.chars().take(20).collect()));
        }
    }
    Err(FramingError::MissingContentLength)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_length_of_usize_max_is_too_large_not_an_overflow() {
        let mut framer = StreamFramer::new();
        framer.push(b"OPTIONS sip:a@b SIP/2.0\r\nl: 18446744073709551615\r\n\r\n");
        assert_eq!(framer.next_message(), Some(Err(FramingError::TooLarge)));
    }

    const OPTIONS: &[u8] = b"OPTIONS sip:a@b SIP/2.0\r\nl: 4\r\n\r\nbody";

    #[test]
    fn a_message_begun_is_partial_and_keep_alives_are_not() {
        let mut framer = StreamFramer::new();
        framer.push(b"\r\n\r\n");
        assert!(framer.next_message().is_none());
        assert!(!framer.has_partial());
        framer.push(&OPTIONS[..10]);
        assert!(framer.next_message().is_none());
        assert!(framer.has_partial());
        framer.push(&OPTIONS[10..]);
        assert!(framer.next_message().is_some());
        assert!(!framer.has_partial());
    }

    #[test]
    fn messages_split_across_reads_and_joined_in_one_read_are_framed() {
        let mut framer = StreamFramer::new();
        framer.push(&OPTIONS[..10]);
        assert!(framer.next_message().is_none());
        framer.push(&OPTIONS[10..]);
        framer.push(b"\r\n\r\n"); // keep-alive between messages
        framer.push(OPTIONS);
        assert_eq!(framer.next_message().unwrap().unwrap(), OPTIONS);
        assert_eq!(framer.next_message().unwrap().unwrap(), OPTIONS);
        assert!(framer.next_message().is_none());
    }

    #[test]
    fn missing_content_length_closes_the_stream() {
        let mut framer = StreamFramer::new();
        framer.push(b"OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\n\r\n");
        assert_eq!(
            framer.next_message(),
            Some(Err(FramingError::MissingContentLength))
        );
        assert!(framer.next_message().is_none());
    }

    #[test]
    fn oversized_content_length_is_refused() {
        let mut framer = StreamFramer::new();
        framer.push(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 9999999\r\n\r\n");
        assert_eq!(framer.next_message(), Some(Err(FramingError::TooLarge)));
    }
}

//! Requests to the admin API as a client, a script or a scraper sends them.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;

use super::Server;

/// An HTTP answer: its status, head and body.
pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Answer {
    /// The body as JSON; panics showing the body when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    /// The `error` of a JSON error body.
    pub fn error(&self) -> String {
        self.json()["error"].as_str().unwrap_or_default().to_owned()
    }
}

/// One request to the admin API at `addr`, with a bearer token when given.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> Answer {
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.0\r\nHost: hotline\r\n{auth}Content-Type: application/json\r\n"
    );
    exchange(addr, &head, body)
}

/// Sends `head` (request line and headers, each line ended) and `body` to
/// `addr`, with the body's length; the answer.
pub fn exchange(addr: SocketAddr, head: &str, body: &str) -> Answer {
    let mut stream = std::net::TcpStream::connect(addr).expect("admin API");
    write!(stream, "{head}Content-Length: {}\r\n\r\n{body}", body.len()).expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Answer {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

/// The status line and headers of a GET whose body never ends (an event stream).
pub fn head_of(server: &Server, path: &str, token: &str) -> String {
    let mut stream = std::net::TcpStream::connect(server.http).expect("admin API");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: hotline\r\nAuthorization: Bearer {token}\r\n\r\n"
    )
    .expect("request");
    let mut head = String::new();
    let mut reader = BufReader::new(stream);
    // Up to the empty line that ends the head.
    while reader.read_line(&mut head).expect("response") > 2 {}
    head
}

/// `hotline tokens add NAME --role ROLE` on the server's database; the token it printed.
pub fn add_token(server: &Server, name: &str, role: &str) -> String {
    let output = server.cli(&["tokens", "add", name, "--role", role]);
    assert!(output.status.success(), "{output:?}");
    let token = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let advice = String::from_utf8_lossy(&output.stderr);
    assert!(advice.contains("Authorization: Bearer"), "{advice}");
    token
}

/// A GET of `path` from the admin API at `addr`.
pub fn get(addr: SocketAddr, path: &str, token: Option<&str>) -> Answer {
    request(addr, "GET", path, token, "")
}

//! Reading the server's `/metrics` as Prometheus would: fetch, check the
//! text format, and find a series' value.

use super::Server;
use super::http::get;

impl Server {
    /// The text of `GET /metrics` (loopback, no token), checked as Prometheus text.
    pub fn scrape(&self) -> String {
        let answer = get(self.http, "/metrics", None);
        assert_eq!(answer.status, 200, "{}\n{}", answer.head, answer.body);
        check_exposition(&answer.body);
        answer.body
    }
}

/// Prometheus's own linter, `promtool check metrics`, on a scrape: it must
/// parse, and name and help every family as Prometheus advises. Returns what
/// it said.
pub fn promtool_check(text: &str) -> String {
    use std::io::Write;
    let mut promtool = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus; scripts/test installs it)");
    let mut stdin = promtool.stdin.take().expect("stdin");
    stdin.write_all(text.as_bytes()).expect("write to promtool");
    drop(stdin);
    let output = promtool.wait_with_output().expect("promtool");
    let said = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "promtool refused the scrape: {said}\n{text}"
    );
    said
}

/// The value of the sample written exactly as `series` (its name and labels
/// as the server writes them), or `None` when there is none.
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.parse().ok()
    })
}

/// Checks the Prometheus text format (0.0.4) line by line: every family has
/// one HELP and one TYPE before its samples, every sample belongs to the
/// family just declared (with its histogram or counter suffix), its labels
/// are `name="value"` pairs and its value is a number. Panics naming the line.
pub fn check_exposition(text: &str) {
    let mut family: Option<(String, String)> = None;
    let mut declared = std::collections::HashSet::new();
    for (number, line) in text.lines().enumerate() {
        let at = || format!("line {}: {line}", number + 1);
        if let Some(help) = line.strip_prefix("# HELP ") {
            let name = help.split(' ').next().unwrap_or_default();
            assert!(valid_name(name), "{}", at());
            assert!(declared.insert(name.to_owned()), "declared twice: {}", at());
            family = Some((name.to_owned(), String::new()));
        } else if let Some(kind) = line.strip_prefix("# TYPE ") {
            let (name, kind) = kind.split_once(' ').unwrap_or_else(|| panic!("{}", at()));
            let current = family
                .as_mut()
                .unwrap_or_else(|| panic!("no HELP: {}", at()));
            assert_eq!(current.0, name, "TYPE for another family: {}", at());
            let known = ["counter", "gauge", "histogram", "summary", "untyped"];
            assert!(known.contains(&kind), "{}", at());
            current.1 = kind.to_owned();
        } else if line.starts_with('#') || line.is_empty() {
            assert!(
                !line.starts_with("# EOF"),
                "OpenMetrics, not Prometheus text"
            );
        } else {
            let (name, value) = split_sample(line).unwrap_or_else(|| panic!("{}", at()));
            let (family, kind) = family.as_ref().unwrap_or_else(|| panic!("{}", at()));
            let suffixes: &[&str] = match kind.as_str() {
                "histogram" => &["_bucket", "_sum", "_count"],
                _ => &[""],
            };
            assert!(
                suffixes.iter().any(|s| name == format!("{family}{s}")),
                "sample outside its family {family}: {}",
                at()
            );
            assert!(
                value.parse::<f64>().is_ok() || ["+Inf", "-Inf", "NaN"].contains(&value),
                "{}",
                at()
            );
        }
    }
    assert!(!declared.is_empty(), "no metric at all");
}

/// A sample's metric name and value, with its labels checked.
fn split_sample(line: &str) -> Option<(&str, &str)> {
    let (series, value) = line.rsplit_once(' ')?;
    let (name, labels) = match series.split_once('{') {
        Some((name, labels)) => (name, Some(labels.strip_suffix('}')?)),
        None => (series, None),
    };
    if !valid_name(name) {
        return None;
    }
    if let Some(labels) = labels {
        for pair in split_labels(labels)? {
            let (key, quoted) = pair.split_once('=')?;
            let inner = quoted.strip_prefix('"')?.strip_suffix('"')?;
            if !valid_name(key) || inner.contains('\n') {
                return None;
            }
        }
    }
    Some((name, value))
}

/// `a="x",b="y,z"` split at the commas between pairs (not inside quotes).
fn split_labels(labels: &str) -> Option<Vec<&str>> {
    let mut pairs = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in labels.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                pairs.push(&labels[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if quoted {
        return None;
    }
    if start < labels.len() {
        pairs.push(&labels[start..]);
    }
    Some(pairs)
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// A real Prometheus server scraping a hotline server every second; killed
/// (by PID) when dropped.
pub struct Prometheus {
    pub addr: std::net::SocketAddr,
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    /// Starts Prometheus scraping the admin API at `target`, and waits until it answers.
    pub fn start(target: std::net::SocketAddr) -> Prometheus {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("prometheus.yml");
        let scrape = format!(
            "global: {{ scrape_interval: 1s }}\nscrape_configs:\n  - job_name: hotline\n    \
             static_configs: [{{ targets: [\"{target}\"] }}]\n"
        );
        std::fs::write(&config, scrape).expect("write prometheus.yml");
        let addr = super::free_tcp_port();
        let child = std::process::Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("prometheus (Debian package prometheus; scripts/test installs it)");
        let prometheus = Prometheus {
            addr,
            child,
            _dir: dir,
        };
        // Its port opens before its storage is ready; until then the query
        // API answers 503, so wait for `/-/ready`.
        let ready = super::peers::wait_for(std::time::Duration::from_secs(30), || {
            std::net::TcpStream::connect(addr).is_ok() && get(addr, "/-/ready", None).status == 200
        });
        assert!(ready, "prometheus did not become ready");
        prometheus
    }

    /// Evaluates `expr` now: the API's JSON answer (`status`, `data.result`).
    pub fn query(&self, expr: &str) -> serde_json::Value {
        let encoded: String = expr
            .bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        let path = format!("/api/v1/query?query={encoded}");
        let answer = get(self.addr, &path, None);
        serde_json::from_str(&answer.body)
            .unwrap_or_else(|e| panic!("{e}: {} {}", answer.head, answer.body))
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

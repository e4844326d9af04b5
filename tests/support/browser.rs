//! Debian's chromium, driven headless by a playwright-core script under
//! `tests/browser/`, against a test server: the script says what it saw,
//! one line at a time, and waits for the test's cue where it must.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::repo_path;

/// A running browser script, killed (by PID) when dropped.
pub struct BrowserScript {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl BrowserScript {
    /// Runs `tests/browser/<script>` with `args`; panics with advice when
    /// chromium or playwright-core is missing (`scripts/test` installs both).
    pub fn start(script: &str, args: &[&str]) -> BrowserScript {
        let dir = repo_path("tests/browser");
        assert!(
            std::path::Path::new("/usr/bin/chromium").exists()
                && dir.join("node_modules/playwright-core").exists(),
            "chromium or playwright-core is missing: run ./scripts/test once"
        );
        let mut child = Command::new("node")
            .arg(dir.join(script))
            .args(args)
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start node");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        BrowserScript {
            child,
            stdin,
            lines,
            seen: Vec::new(),
        }
    }

    /// The frequency in the script's next line, `heard <Hz>` (the page's
    /// WebAudio analyser); panics on any other line.
    pub fn next_heard(&mut self, limit: Duration) -> f32 {
        let line = self.next(limit);
        line.strip_prefix("heard ")
            .and_then(|f| f.parse().ok())
            .unwrap_or_else(|| panic!("not what the page heard: {line}"))
    }

    /// The next line the script says, within `limit`; panics with what it
    /// said so far if it fails or goes quiet.
    pub fn next(&mut self, limit: Duration) -> String {
        match self.lines.recv_timeout(limit) {
            Ok(line) if line.starts_with("FAIL") => {
                panic!(
                    "the browser script failed:\n{}\n{line}",
                    self.seen.join("\n")
                )
            }
            Ok(line) => {
                self.seen.push(line.clone());
                line
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => panic!(
                "the browser script ended early; it said:\n{}",
                self.seen.join("\n")
            ),
            Err(mpsc::RecvTimeoutError::Timeout) => panic!(
                "the browser script said nothing more within {limit:?}; so far:\n{}",
                self.seen.join("\n")
            ),
        }
    }

    /// Lets the script go on past its next wait.
    pub fn cue(&mut self) {
        let _ = writeln!(self.stdin, "go");
    }

    /// Waits for the script to end; whether it passed.
    pub fn finish(mut self, limit: Duration) -> bool {
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }
}

impl Drop for BrowserScript {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where tests save screenshots: `target/screenshots/` (not committed).
pub fn screenshots() -> String {
    let dir = repo_path("target/screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot directory");
    dir.display().to_string()
}

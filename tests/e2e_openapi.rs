//! The admin API against its own OpenAPI document, with the real binary:
//! the document names each route's role and the server enforces exactly
//! that, and schemathesis (PyPI) calls every operation with generated input,
//! valid and not, checking each answer against the document.

mod support;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use support::http::{add_token, head_of, request};
use support::peers::{Baresip, wait_for};
use support::phone::silence;
use support::{Server, ServerOptions};

/// Every route of the JSON API, with the role the design gives it; pages,
/// their files, sign-in and the agent desktop are not in the document.
const ROUTES: [(&str, &str, Option<&str>); 27] = [
    ("get", "/health", None),
    ("post", "/webrtc/calls", None),
    ("delete", "/webrtc/calls/{id}", None),
    ("get", "/status", Some("monitor")),
    ("get", "/calls", Some("monitor")),
    ("get", "/report", Some("monitor")),
    ("get", "/report.csv", Some("monitor")),
    ("get", "/metrics", Some("monitor")),
    ("get", "/queue", Some("monitor")),
    ("get", "/queue/events", Some("monitor")),
    ("get", "/console/today", Some("monitor")),
    ("get", "/console/whoami", Some("monitor")),
    ("get", "/console/calls", Some("monitor")),
    ("get", "/console/calls.csv", Some("monitor")),
    ("get", "/console/tickets", Some("monitor")),
    ("get", "/console/tickets.csv", Some("monitor")),
    ("get", "/console/series", Some("monitor")),
    ("post", "/agents/{agent}/state", Some("supervisor")),
    ("get", "/registrations", Some("supervisor")),
    ("get", "/tokens", Some("admin")),
    ("get", "/flows/live", Some("admin")),
    ("get", "/flows/{flow}/versions/{version}", Some("admin")),
    ("post", "/flows/check", Some("admin")),
    ("post", "/flows/test", Some("admin")),
    ("post", "/flows/simulate", Some("admin")),
    ("post", "/flows/publish", Some("admin")),
    ("post", "/flows/{flow}/rollback", Some("admin")),
];

#[test]
fn the_api_passes_a_conformance_run_against_its_own_document() {
    // A copy of the demo flow: the flows routes may write into the directory.
    let flows = support::flows_always_open();
    let server = Server::start_with(ServerOptions {
        flows: Some(flows.path().to_owned()),
        config: "[registrar]\nalgorithms = [\"MD5\"]\n\n[[queues]]\nname = \"support\"\n\
                 strategy = \"longest_idle\"\nskills = [\"support\"]\n"
            .into(),
        ..ServerOptions::default()
    });
    // An agent on a real phone, so the queue, the registrations and the
    // agent's state changes answer with content, not empty lists.
    server.add_agent("alice", "secret-a", "support");
    let mic = silence(server.dir.path(), 60);
    let mut phone = Baresip::start(&mic, "<sip:idle@127.0.0.1>;regint=0");
    let account = format!("<sip:alice@{}>;auth_pass=secret-a;regint=60", server.sip);
    phone.command("uanew", &account);
    let registered = phone.wait_event("REGISTER_OK", Duration::from_secs(10));
    assert!(
        registered.is_some(),
        "alice did not register:\n{}",
        phone.history()
    );

    let admin = add_token(&server, "admin", "admin");
    let monitor = add_token(&server, "wallboard", "monitor");
    assert!(
        wait_for(Duration::from_secs(10), || request(
            server.http,
            "GET",
            "/status",
            None,
            ""
        )
        .status
            == 401),
        "the server did not pick up its tokens"
    );

    let queue = request(server.http, "GET", "/queue", Some(&monitor), "").json();
    assert_eq!(queue["agents"][0]["id"], "alice", "{queue}");

    // Served without a token, like /health.
    let answer = request(server.http, "GET", "/openapi.json", None, "");
    assert_eq!(answer.status, 200, "{}", answer.body);
    let document = answer.json();
    assert_eq!(roles(&document), expected_roles(), "{document:#}");
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );

    // The roles the document names are the ones the server enforces.
    for (method, path, role) in ROUTES {
        let path = path
            .replace("{agent}", "alice")
            .replace("{flow}", "hotline")
            .replace("{version}", "hotline.yaml@000000000000")
            .replace("{id}", "0");
        let body = if method == "post" {
            r#"{"state":"login"}"#
        } else {
            ""
        };
        if path == "/queue/events" {
            assert!(head_of(&server, &path, &monitor).starts_with("HTTP/1.1 200"));
            continue;
        }
        let status = request(
            server.http,
            &method.to_uppercase(),
            &path,
            Some(&monitor),
            body,
        )
        .status;
        assert_eq!(
            status == 403,
            role.is_some_and(|role| role != "monitor"),
            "{method} {path} answered a monitor {status}"
        );
    }
    let unknown = request(
        server.http,
        "POST",
        "/agents/nobody/state",
        Some(&admin),
        r#"{"state":"login"}"#,
    );
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    assert_eq!(unknown.error(), "unknown agent `nobody`");
    let events = head_of(&server, "/queue/events", &admin).to_lowercase();
    assert!(
        events.contains("content-type: text/event-stream"),
        "{events}"
    );

    let run = schemathesis(&server, &admin);
    assert!(
        run.status.success(),
        "schemathesis found the API at odds with its document:\n{}\n{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr),
        server.log()
    );
    println!("{}", String::from_utf8_lossy(&run.stdout));
}

/// Runs schemathesis as `tests/schemathesis.toml` says: a fixed seed and a
/// bounded number of examples per operation.
fn schemathesis(server: &Server, token: &str) -> std::process::Output {
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/schemathesis.toml");
    Command::new("schemathesis")
        .args(["--no-color", "--config-file", config, "run"])
        .arg(format!("http://{}/openapi.json", server.http))
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .current_dir(server.dir.path())
        .output()
        .expect("schemathesis is installed by scripts/test (pip install schemathesis)")
}

/// The role each operation of `document` needs, by `METHOD path`.
fn roles(document: &serde_json::Value) -> BTreeMap<String, Option<String>> {
    let paths = document["paths"].as_object().expect("paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            let operations = item.as_object().expect("a path item");
            operations.iter().map(move |(method, operation)| {
                let role = operation["x-hotline-role"].as_str().map(str::to_owned);
                if let Some(role) = &role {
                    assert_eq!(operation["security"][0]["bearer"], serde_json::json!([]));
                    assert!(
                        operation["tags"]
                            .as_array()
                            .unwrap()
                            .contains(&role.as_str().into())
                    );
                    assert!(operation["responses"]["401"].is_object(), "{path}");
                    assert!(operation["responses"]["403"].is_object(), "{path}");
                }
                (format!("{method} {path}"), role)
            })
        })
        .collect()
}

fn expected_roles() -> BTreeMap<String, Option<String>> {
    ROUTES
        .iter()
        .map(|(method, path, role)| (format!("{method} {path}"), role.map(str::to_owned)))
        .collect()
}

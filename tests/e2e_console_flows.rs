//! The console's flows page in a real browser (Debian's chromium, headless,
//! driven by playwright-core) against a server whose directory watcher runs
//! every 200 ms: a monitor is refused; an admin types an error and sees it at
//! its line; publishes a new greeting while a baresip call is in progress,
//! and that call keeps the old version while the next call hears the new one;
//! then rolls back. The directory and the live flows agree after each step,
//! so the watcher does not undo what the console published. Then a monitor
//! filters the reports page's calls list and downloads it as CSV.

mod support;

use std::time::Duration;

use support::audio::the_call_keeps_its_version_and_the_next_hears_the_new_one;
use support::browser::{BrowserScript, screenshots};
use support::http::{add_token, get};
use support::peers::wait_for;
use support::phone::{dial, silence};
use support::{Server, ServerOptions, hotline, repo_path};

const OLENA: &str = "+380441234567";

/// The live version of flow `hotline`, as `/status` says.
fn live(server: &Server, token: &str) -> String {
    let status = get(server.http, "/status", Some(token));
    assert_eq!(status.status, 200, "{}", status.body);
    status.json()["flows"]["hotline"]
        .as_str()
        .expect("hotline is live")
        .to_owned()
}

/// The calls in the server's database, newest first.
fn calls(server: &Server) -> Vec<serde_json::Value> {
    let (ok, out) = hotline(&["calls", "--db", &server.db_url(), "list", "--json"]);
    assert!(ok, "{out}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[test]
fn an_admin_sees_errors_at_their_line_publishes_without_disturbing_a_call_and_rolls_back() {
    let flows = tempfile::tempdir().unwrap();
    let file = flows.path().join("hotline.yaml");
    let original = std::fs::read_to_string(repo_path("ivr-flows/hotline.yaml")).unwrap();
    std::fs::write(&file, &original).unwrap();
    let server = Server::start_with(ServerOptions {
        flows: Some(flows.path().to_owned()),
        config: "[flows]\nreload_ms = 200\n".into(),
        ..ServerOptions::default()
    });
    let admin = add_token(&server, "admin", "admin");
    let monitor = add_token(&server, "wallboard", "monitor");
    assert!(
        wait_for(Duration::from_secs(10), || get(
            server.http,
            "/status",
            None
        )
        .status
            == 401),
        "the server did not take up the tokens"
    );
    let first = live(&server, &admin);

    // The error an admin makes: a menu item going to a node that does not exist.
    let broken = original.replacen("goto: balance", "goto: nowhere", 1);
    let broken_line = broken
        .lines()
        .position(|l| l.contains("goto: nowhere"))
        .unwrap()
        + 1;
    // The change an admin publishes: the after-hours notice instead of the greeting.
    let changed = original.replacen(
        "play: { prompts: [hotline/greeting], next: identify }",
        "play: { prompts: [hotline/after_hours], next: identify }",
        1,
    );
    assert_ne!(changed, original);
    let broken_file = server.dir.path().join("broken.yaml.txt");
    let changed_file = server.dir.path().join("changed.yaml.txt");
    std::fs::write(&broken_file, &broken).unwrap();
    std::fs::write(&changed_file, &changed).unwrap();

    let base = format!("http://{}", server.http);
    let shots = screenshots();
    let mut page = BrowserScript::start(
        "flows.mjs",
        &[
            &base,
            &admin,
            &monitor,
            &shots,
            &broken_file.display().to_string(),
            &changed_file.display().to_string(),
        ],
    );
    let wait = Duration::from_secs(30);
    assert_eq!(page.next(wait), "monitor page 403 publish 403");
    assert_eq!(page.next(wait), format!("live {first}"));
    let tests = page.next(wait);
    assert!(
        tests.starts_with("tests All ") && tests.ends_with(" tests passed."),
        "{tests}"
    );

    let problem = page.next(wait);
    assert!(
        problem.starts_with(&format!("problem line={broken_line} column=")),
        "{problem} (expected line {broken_line})"
    );
    assert!(
        problem.contains(&format!("gutter={broken_line} publish_disabled=true")),
        "{problem}"
    );
    assert!(problem.contains("nowhere"), "{problem}");
    // The broken text was only checked, never published.
    assert_eq!(std::fs::read_to_string(&file).unwrap(), original);
    assert_eq!(live(&server, &admin), first);

    // The flow's own tests expect the greeting: the page says which one fails.
    let tests = page.next(wait);
    assert!(tests.contains("failed"), "{tests}");
    assert!(tests.contains("hotline/greeting"), "{tests}");
    // An unknown caller (no CRM fixture) hears the flow's default language.
    let simulated = page.next(wait);
    assert!(
        simulated.starts_with("simulated play [en] hotline/after_hours"),
        "{simulated}"
    );
    assert_eq!(page.next(wait), "ready to publish");

    // A call in progress when the admin publishes.
    let mic = silence(server.dir.path(), 40);
    let in_progress = dial(&server, OLENA, &mic);
    page.cue();
    let published = page.next(wait);
    assert!(
        published.starts_with("Published: hotline.yaml@"),
        "{published}"
    );
    let second = live(&server, &admin);
    assert_ne!(second, first);
    assert!(published.contains(&second), "{published}");
    // The directory holds what is live, and the watcher leaves it so.
    assert_eq!(std::fs::read_to_string(&file).unwrap(), changed);
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(live(&server, &admin), second, "{}", server.log());

    the_call_keeps_its_version_and_the_next_hears_the_new_one(&server, in_progress, OLENA);
    let recorded = || calls(&server);
    assert!(
        wait_for(Duration::from_secs(5), || recorded().len() == 2),
        "{:?}",
        recorded()
    );
    let recorded = recorded();
    assert_eq!(
        recorded[1]["flow_version"], first,
        "the first call kept its version"
    );
    assert_eq!(recorded[0]["flow_version"], second);

    page.cue();
    let rolled_back = page.next(wait);
    assert_eq!(
        rolled_back,
        format!("rolled back {first} · live/admin {second}/admin {first}/flows directory")
    );
    assert!(page.finish(wait));
    assert_eq!(live(&server, &admin), first);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), original);
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(live(&server, &admin), first, "{}", server.log());

    the_calls_list_and_its_csv_say_what_the_database_says(&server, &monitor, &recorded);
}

/// A monitor filters today's calls by the outcome of the first call (its
/// menu served the caller), on the reports page and in its CSV.
fn the_calls_list_and_its_csv_say_what_the_database_says(
    server: &Server,
    monitor: &str,
    recorded: &[serde_json::Value],
) {
    let outcome = recorded[1]["flow_outcome"].as_str().unwrap().to_owned();
    let expected: Vec<&serde_json::Value> = recorded
        .iter()
        .filter(|c| c["flow_outcome"] == outcome.as_str())
        .collect();
    let base = format!("http://{}", server.http);
    let wait = Duration::from_secs(30);
    let mut page = BrowserScript::start("lists.mjs", &[&base, monitor, &screenshots(), &outcome]);
    assert_eq!(
        page.next(wait),
        format!("unfiltered total {}", recorded.len())
    );
    // The chart of calls per hour counts the calls in the hour they started.
    let per_hour = page.next(wait);
    if let Some(hours) = per_hour.strip_prefix("per hour in UTC: ") {
        let mut expected_hours = std::collections::BTreeMap::<String, usize>::new();
        for call in recorded {
            let hour = &call["started_at"].as_str().unwrap()[11..13];
            *expected_hours.entry(format!("{hour}:00")).or_default() += 1;
        }
        let expected_hours: Vec<String> = expected_hours
            .iter()
            .map(|(hour, n)| format!("{hour}={n}"))
            .collect();
        assert_eq!(hours, expected_hours.join(" "));
    } else {
        let counted: usize = per_hour
            .split_once(": ")
            .map(|(_, bars)| {
                bars.split(' ')
                    .filter_map(|b| b.split_once('=')?.1.parse::<usize>().ok())
                    .sum()
            })
            .unwrap_or_default();
        assert_eq!(counted, recorded.len(), "{per_hour}");
    }
    let filtered = page.next(wait);
    let (total, rows) = filtered
        .strip_prefix("filtered total ")
        .and_then(|rest| rest.split_once(": "))
        .unwrap_or_else(|| panic!("{filtered}"));
    assert_eq!(total, expected.len().to_string(), "{filtered}");
    let rows: Vec<Vec<&str>> = rows.split(" ; ").map(|r| r.split('|').collect()).collect();
    assert_eq!(rows.len(), expected.len(), "{filtered}");
    for (row, call) in rows.iter().zip(&expected) {
        assert_eq!(row[0], call["started_at"].as_str().unwrap());
        assert_eq!(row[2], outcome);
        // A monitor sees the caller's number masked, as the logs show it.
        assert_ne!(row[1], OLENA);
        assert!(row[1].starts_with("+38044"), "{filtered}");
    }
    let saved = page.next(wait);
    assert!(page.finish(wait));
    let csv = std::fs::read_to_string(saved.trim_start_matches("csv ")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "started_at,ended_at,caller,channel,customer_id,flow_outcome,outcome,flow_version,path,node"
    );
    assert_eq!(lines.len(), expected.len() + 1, "{csv}");
    for (line, row) in lines[1..].iter().zip(&rows) {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells[0], row[0], "{csv}");
        // The number begins with `+`, so it is defused for spreadsheets.
        assert_eq!(cells[2], format!("'{}", row[1]), "{csv}");
        assert_eq!(cells[5], outcome, "{csv}");
    }
}

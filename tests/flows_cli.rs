//! `hotline flows check | test | simulate`: what an admin sees at the command line.

mod support;

use support::{hotline, repo_path};

fn audio() -> String {
    repo_path("audio").display().to_string()
}

#[test]
fn check_passes_the_demo_flows_and_names_each_problem_of_a_broken_file() {
    let flows = repo_path("ivr-flows").display().to_string();
    let (ok, out) = hotline(&["flows", "--audio", &audio(), "check", &flows]);
    assert!(ok, "{out}");
    assert!(out.contains("hotline.yaml: ok"), "{out}");

    let dir = tempfile::tempdir().unwrap();
    let demo = std::fs::read_to_string(repo_path("ivr-flows/hotline.yaml")).unwrap();
    let broken = demo.replacen("goto: balance", "goto: nowhere", 1).replacen(
        "name: support, priority: 0",
        "name: sales, priority: 0",
        1,
    );
    std::fs::write(dir.path().join("hotline.yaml"), broken).unwrap();
    let dir_arg = dir.path().display().to_string();
    let (ok, out) = hotline(&["flows", "--audio", &audio(), "check", &dir_arg]);
    assert!(!ok, "errors give a failing exit code:\n{out}");
    let lines: Vec<&str> = out.lines().filter(|l| l.contains(": error: ")).collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("hotline.yaml:") && l.contains("'nowhere'")),
        "{out}"
    );
    assert!(lines.iter().any(|l| l.contains("'sales'")), "{out}");
    // Each line carries file:line:column.
    for line in lines {
        let place: Vec<&str> = line.splitn(4, ':').collect();
        assert!(
            place[1].parse::<u32>().is_ok() && place[2].parse::<u32>().is_ok(),
            "{line}"
        );
    }
}

#[test]
fn test_runs_the_demo_flows_own_tests_with_coverage() {
    let flows = repo_path("ivr-flows").display().to_string();
    let (ok, out) = hotline(&["flows", "--audio", &audio(), "test", &flows]);
    assert!(ok, "{out}");
    assert!(out.contains("tests passed"), "{out}");
    assert!(out.contains("nodes covered"), "{out}");
}

#[test]
fn simulate_prints_what_the_caller_hears_against_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("sim.db").display());
    let file = repo_path("ivr-flows/hotline.yaml").display().to_string();
    let audio = audio();
    let simulate = |keys: &str| {
        hotline(&[
            "flows",
            "--audio",
            &audio,
            "--db",
            &db,
            "simulate",
            &file,
            "--from",
            "+380441234567",
            "--keys",
            keys,
        ])
    };
    let (ok, out) = simulate("1");
    assert!(ok, "{out}");
    assert!(
        out.contains("одна тисяча двісті тридцять чотири гривні п'ятдесят шість копійок"),
        "the balance is spoken from the database:\n{out}"
    );
    assert!(out.contains("outcome: ContainedByIvr"), "{out}");

    let (ok, out) = simulate("3");
    assert!(ok, "{out}");
    assert!(
        out.contains("ticket line_repair() -> number 000001"),
        "{out}"
    );
}

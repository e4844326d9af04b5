//! Flow tests as code: the `tests:` of each flow file, run through the simulator.

use std::collections::BTreeSet;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::call::{Outcome, PathStep};
use super::catalog::{AudioDir, Catalog};
use super::compile::compile;
use super::diagnostic::Diagnostic;
use super::simulate::{Fixture, SimulationInput, Transcript, simulate};

/// One test of a flow file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowTest {
    pub name: String,
    pub caller: String,
    /// Wall-clock time of the call, RFC 3339.
    pub at: DateTime<Utc>,
    #[serde(default)]
    pub keys: String,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub split_roll: u8,
    #[serde(default)]
    pub fixture: Fixture,
    pub expect: Expectation,
}

/// What a test expects; only what is given is checked.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Expectation {
    /// Prompt ids played, in this order (others may come between).
    pub prompts: Vec<String>,
    /// Prompt ids that must not be played.
    pub not_prompts: Vec<String>,
    /// Ticket kinds registered, exactly.
    pub tickets: Option<Vec<String>>,
    /// The queue the call reaches.
    pub queue: Option<String>,
    pub outcome: Option<Outcome>,
}

#[derive(Deserialize)]
struct TestsOnly {
    #[serde(default)]
    tests: Vec<FlowTest>,
}

/// The result of running the tests of a directory of flows.
#[derive(Debug, Default)]
pub struct TestReport {
    pub files: Vec<FileReport>,
    /// The first failure; running stops there.
    pub failure: Option<TestFailure>,
}

/// Tests run and node coverage of one flow file.
#[derive(Debug)]
pub struct FileReport {
    pub file: PathBuf,
    pub tests_passed: usize,
    pub nodes: Vec<String>,
    pub covered: BTreeSet<String>,
}

/// Why the test run failed.
#[derive(Debug)]
pub struct TestFailure {
    pub file: PathBuf,
    /// The test's name; empty when the file itself did not compile or parse.
    pub test: String,
    pub message: String,
    pub transcript: Option<String>,
}

impl TestReport {
    /// Whether every test passed.
    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }
}

/// Runs the tests of every `*.yaml` flow in `dir`, stopping at the first failure.
pub fn run_tests(dir: &Path, catalog: &Catalog, audio: &AudioDir) -> io::Result<TestReport> {
    let mut report = TestReport::default();
    for file in flow_files(dir)? {
        let source = std::fs::read_to_string(&file)?;
        let one = run_source_tests(&file, &source, catalog, audio);
        report.files.extend(one.files);
        if one.failure.is_some() {
            report.failure = one.failure;
            break;
        }
    }
    Ok(report)
}

/// Runs the tests of one flow's source as if it were `file` (the console
/// tests a flow before it is published, so before it is a file).
pub fn run_source_tests(
    file: &Path,
    source: &str,
    catalog: &Catalog,
    audio: &AudioDir,
) -> TestReport {
    let mut report = TestReport::default();
    let fail = |test: &str, message: String, transcript| TestFailure {
        file: file.to_owned(),
        test: test.to_owned(),
        message,
        transcript,
    };
    let flow = match compile(source, file, catalog, audio) {
        Ok((flow, _)) => Arc::new(flow),
        Err(errors) => {
            let lines: Vec<String> = errors.iter().map(Diagnostic::to_string).collect();
            report.failure = Some(fail("", lines.join("\n"), None));
            return report;
        }
    };
    let tests = match serde_saphyr::from_str::<TestsOnly>(source) {
        Ok(t) => t.tests,
        Err(e) => {
            report.failure = Some(fail("", format!("tests: {}", e.without_snippet()), None));
            return report;
        }
    };
    let mut file_report = FileReport {
        file: file.to_owned(),
        tests_passed: 0,
        nodes: flow.node_names().map(str::to_owned).collect(),
        covered: BTreeSet::new(),
    };
    for test in tests {
        let input = SimulationInput {
            caller: test.caller.clone(),
            keys: test.keys.clone(),
            at_time: test.at,
            language: test.language.clone(),
            split_roll: test.split_roll,
        };
        let mut fixture = test.fixture.clone();
        let transcript = simulate(Arc::clone(&flow), &input, &mut fixture, audio);
        for step in &transcript.path {
            if let PathStep::Node(n) = step {
                file_report.covered.insert(n.clone());
            }
        }
        if let Err(message) = check(&test.expect, &transcript) {
            report.failure = Some(fail(&test.name, message, Some(transcript.to_string())));
            break;
        }
        file_report.tests_passed += 1;
    }
    report.files.push(file_report);
    report
}

/// The `*.yaml` files of a directory, sorted.
pub fn flow_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    Ok(files)
}

/// Compares a transcript with an expectation; the error says what differs.
fn check(expect: &Expectation, transcript: &Transcript) -> Result<(), String> {
    let played = transcript.prompt_ids();
    let mut rest = played.iter();
    for wanted in &expect.prompts {
        if !rest.any(|p| p == wanted) {
            return Err(format!(
                "expected prompt '{wanted}' (in order), but it was not played"
            ));
        }
    }
    if let Some(p) = expect
        .not_prompts
        .iter()
        .find(|p| played.contains(&p.as_str()))
    {
        return Err(format!("prompt '{p}' was played but should not be"));
    }
    if let Some(tickets) = &expect.tickets
        && transcript.tickets() != *tickets
    {
        return Err(format!(
            "expected tickets {tickets:?}, got {:?}",
            transcript.tickets()
        ));
    }
    if let Some(queue) = &expect.queue
        && transcript.queue() != Some(queue.as_str())
    {
        return Err(format!(
            "expected queue '{queue}', got {:?}",
            transcript.queue()
        ));
    }
    if let Some(outcome) = expect.outcome
        && transcript.outcome != Some(outcome)
    {
        return Err(format!(
            "expected outcome {outcome:?}, got {:?}",
            transcript.outcome
        ));
    }
    Ok(())
}

/// Prints a test report for people: passes, coverage, the failure with its transcript.
pub fn print_report(report: &TestReport, out: &mut dyn Write) -> io::Result<()> {
    for f in &report.files {
        let uncovered: Vec<&str> = f
            .nodes
            .iter()
            .filter(|n| !f.covered.contains(*n))
            .map(String::as_str)
            .collect();
        writeln!(
            out,
            "{}: {} tests passed, {} of {} nodes covered",
            f.file.display(),
            f.tests_passed,
            f.nodes.len() - uncovered.len(),
            f.nodes.len()
        )?;
        if !uncovered.is_empty() {
            writeln!(out, "  not covered: {}", uncovered.join(", "))?;
        }
    }
    if let Some(failure) = &report.failure {
        let test = if failure.test.is_empty() {
            String::new()
        } else {
            format!(" test '{}'", failure.test)
        };
        writeln!(
            out,
            "FAILED {}{test}: {}",
            failure.file.display(),
            failure.message
        )?;
        if let Some(t) = &failure.transcript {
            write!(out, "{t}")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names the demo configuration defines (see the CRM's demo ticket types).
    fn demo_catalog() -> Catalog {
        let set = |names: &[&str]| names.iter().map(|s| s.to_string()).collect();
        Catalog {
            lookups: set(&[
                "balance",
                "services",
                "last_ticket",
                "last_meter_reading",
                "customer_by_account",
            ]),
            ticket_types: [
                ("line_repair".to_owned(), set(&[])),
                ("meter_reading".to_owned(), set(&["reading"])),
                ("callback".to_owned(), set(&["callback_number"])),
            ]
            .into(),
            queues: set(&["support"]),
        }
    }

    fn root() -> &'static Path {
        Path::new(env!("CARGO_MANIFEST_DIR"))
    }

    #[test]
    fn the_demo_flow_passes_its_own_tests_and_covers_every_node() {
        let audio = AudioDir::open(&root().join("audio")).unwrap();
        let report = run_tests(&root().join("ivr-flows"), &demo_catalog(), &audio).unwrap();
        let mut printed = Vec::new();
        print_report(&report, &mut printed).unwrap();
        let printed = String::from_utf8(printed).unwrap();
        assert!(report.passed(), "{printed}");
        let demo = &report.files[0];
        assert!(demo.tests_passed >= 12, "{printed}");
        let uncovered: Vec<&String> = demo
            .nodes
            .iter()
            .filter(|n| !demo.covered.contains(*n))
            .collect();
        assert!(uncovered.len() <= 2, "{printed}");
    }

    #[test]
    fn the_demo_flow_compiles_without_warnings() {
        let audio = AudioDir::open(&root().join("audio")).unwrap();
        let file = root().join("ivr-flows/hotline.yaml");
        let source = std::fs::read_to_string(&file).unwrap();
        let (_, warnings) = compile(&source, &file, &demo_catalog(), &audio).unwrap();
        assert_eq!(warnings, []);
    }

    #[test]
    fn a_mismatch_fails_the_run_with_the_transcript() {
        let dir = tempfile::tempdir().unwrap();
        let flow = "id: t\ndefault_language: en\nlanguages: [en]\nstart: bye\nnodes:\n  bye:\n    hangup: { prompt: p/bye }\n\
            tests:\n  - name: says hello\n    caller: \"+1\"\n    at: 2025-01-01T00:00:00Z\n    expect: { prompts: [p/hello] }\n";
        std::fs::write(dir.path().join("t.yaml"), flow).unwrap();
        let mut audio = AudioDir::default();
        audio.insert("en", "p/bye", "Goodbye");
        let report = run_tests(dir.path(), &Catalog::default(), &audio).unwrap();
        let failure = report.failure.unwrap();
        assert_eq!(failure.test, "says hello");
        assert_eq!(
            failure.message,
            "expected prompt 'p/hello' (in order), but it was not played"
        );
        assert!(
            failure
                .transcript
                .unwrap()
                .contains("play [en] p/bye: \"Goodbye\"")
        );
    }
}

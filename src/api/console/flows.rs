//! The flows page's routes (admin): the flows with their publications, a
//! version's source, checking a flow as it is typed, its own tests, the
//! simulator, publishing and rolling back. Checks, tests and simulations run
//! the code of `hotline flows check|test|simulate` on the text sent, without
//! publishing it; a flow with errors is never published.

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::flow_versions::{self, FROM_DIRECTORY, Publication};
use super::publish::{PublishError, publish};
use crate::api::Handles;
use crate::api::access::Caller;
use crate::api::error::{ApiError, Checked};
use crate::flow::{
    AudioDir, Diagnostic, Fixture, Flow, Severity, SimulationInput, compile, run_source_tests,
    simulate, version_of,
};

/// The flows page's JSON routes; they need the admin role.
pub fn routes() -> OpenApiRouter<Handles> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(version_source))
        .routes(routes!(check))
        .routes(routes!(test))
        .routes(routes!(simulation))
        .routes(routes!(publish_flow))
        .routes(routes!(rollback))
}

/// A live flow and its publications.
#[derive(Serialize, ToSchema)]
pub struct FlowListing {
    pub id: String,
    /// The version new calls get.
    pub live: String,
    /// Its file in the flows directory.
    pub file: String,
    /// Newest first; a version published again appears again.
    pub publications: Vec<Publication>,
}

/// A flow's text, as typed or uploaded.
#[derive(Deserialize, ToSchema)]
pub struct FlowSource {
    pub source: String,
}

/// One problem the compiler found.
#[derive(Serialize, ToSchema)]
pub struct Problem {
    /// `error` (the flow cannot be published) or `warning`.
    pub severity: &'static str,
    /// 1-based; 0 when the problem has no single place.
    pub line: u64,
    pub column: u64,
    pub message: String,
}

/// What the compiler says of a flow's text.
#[derive(Serialize, ToSchema)]
pub struct CheckResult {
    /// Whether it could be published as it is.
    pub publishable: bool,
    /// The flow's id and the version it would have, when it compiles.
    pub id: Option<String>,
    pub version: Option<String>,
    pub problems: Vec<Problem>,
}

/// The outcome of a flow's own `tests:`.
#[derive(Serialize, ToSchema)]
pub struct TestRun {
    pub passed: bool,
    pub tests_passed: usize,
    /// Nodes of the flow, and those no test went through.
    pub nodes: usize,
    pub uncovered: Vec<String>,
    pub failure: Option<TestFailed>,
}

/// The first test that failed; running stops there.
#[derive(Serialize, ToSchema)]
pub struct TestFailed {
    /// Empty when the flow itself did not compile.
    pub test: String,
    pub message: String,
    pub transcript: Option<String>,
}

/// One simulated call; the CRM is the fixture given (none: an unknown caller),
/// so a simulation from the page never writes tickets.
#[derive(Deserialize, ToSchema)]
pub struct SimulationRequest {
    pub source: String,
    /// Calling number, E.164.
    pub caller: String,
    /// Keys pressed in turn when the flow waits; `w` lets the timeout pass.
    #[serde(default)]
    pub keys: String,
    /// Time of the call (default: now).
    pub at: Option<DateTime<Utc>>,
    pub language: Option<String>,
    /// A CRM fixture in YAML, as in a flow test's `fixture:`.
    pub fixture: Option<String>,
}

/// What the simulated caller heard and did.
#[derive(Serialize, ToSchema)]
pub struct SimulationResult {
    pub transcript: String,
    /// How the call left the flow, when it did.
    pub outcome: Option<String>,
}

/// Why a flow was not published: in words, and the compiler's problems
/// when there are some (a body that is not a flow at all has none).
#[derive(Serialize, ToSchema)]
pub struct NotPublished {
    pub error: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problems: Option<Vec<Problem>>,
}

impl NotPublished {
    fn answer(problems: &[Diagnostic]) -> Response {
        let body = NotPublished {
            error: "the flow has errors; nothing was published".into(),
            problems: Some(problems.iter().map(Problem::from).collect()),
        };
        (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
    }
}

/// A version made live.
#[derive(Serialize, ToSchema)]
pub struct Published {
    pub id: String,
    pub version: String,
}

/// The version to publish again.
#[derive(Deserialize, ToSchema)]
pub struct Rollback {
    pub version: String,
}

/// The live flows, each with its publications, newest first.
///
/// A live version that was deployed as a file and never seen here before is
/// recorded now as published by the flows directory, so it can be rolled back to.
#[utoipa::path(get, path = "/flows/live", responses(
    (status = OK, body = Vec<FlowListing>),
    (status = SERVICE_UNAVAILABLE, description = "The database cannot be read now.", body = ApiError),
))]
async fn list(State(handles): State<Handles>) -> Response {
    let flows = handles.flows();
    let mut listings = Vec::new();
    for (id, live) in flows.versions() {
        let Some(flow) = flows.get(&id) else { continue };
        let file = flow.file().to_owned();
        let mut publications = match flow_versions::history(handles.db(), &id).await {
            Ok(history) => history,
            Err(error) => return unavailable(error),
        };
        if !publications.iter().any(|p| p.version == live)
            && let Some(source) = source_of_live(&flow)
        {
            if let Err(error) =
                flow_versions::record(handles.db(), &id, &live, &source, FROM_DIRECTORY).await
            {
                return unavailable(error);
            }
            match flow_versions::history(handles.db(), &id).await {
                Ok(history) => publications = history,
                Err(error) => return unavailable(error),
            }
        }
        listings.push(FlowListing {
            id,
            live,
            file: file_name(&file),
            publications,
        });
    }
    Json(listings).into_response()
}

/// A version's source, as published.
#[utoipa::path(get, path = "/flows/{flow}/versions/{version}",
    params(
        ("flow" = String, Path, description = "The flow's id."),
        ("version" = String, Path, description = "The version id, e.g. `hotline.yaml@1a2b3c4d5e6f`."),
    ),
    responses(
        (status = OK, description = "The flow's YAML.", body = String, content_type = "text/plain"),
        (status = NOT_FOUND, description = "No such version of this flow was published.", body = ApiError),
        (status = SERVICE_UNAVAILABLE, description = "The database cannot be read now.", body = ApiError),
    ))]
async fn version_source(
    State(handles): State<Handles>,
    Path((id, version)): Path<(String, String)>,
) -> Response {
    let stored = match flow_versions::source(handles.db(), &id, &version).await {
        Ok(stored) => stored,
        Err(error) => return unavailable(error),
    };
    let live = || {
        let flow = handles.flows().get(&id)?;
        (flow.version().0 == version)
            .then(|| source_of_live(&flow))
            .flatten()
    };
    match stored.or_else(live) {
        Some(source) => (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            source,
        )
            .into_response(),
        None => ApiError::answer(
            StatusCode::NOT_FOUND,
            format!("flow `{id}` has no published version `{version}`"),
        ),
    }
}

/// Compiles a flow's text without publishing it: its problems with line and column.
#[utoipa::path(post, path = "/flows/check", request_body = FlowSource, responses(
    (status = OK, body = CheckResult),
    (status = BAD_REQUEST, description = "The body is not JSON.", body = ApiError),
    (status = UNSUPPORTED_MEDIA_TYPE, description = "The body is not sent as `application/json`.", body = ApiError),
    (status = UNPROCESSABLE_ENTITY, description = "The JSON has no `source`.", body = ApiError),
    (status = SERVICE_UNAVAILABLE, description = "The prompts directory cannot be read.", body = ApiError),
))]
async fn check(
    State(handles): State<Handles>,
    Checked(Json(body)): Checked<Json<FlowSource>>,
) -> Response {
    let Some(compiled) = compiled(&handles, body.source).await else {
        return no_prompts();
    };
    Json(compiled.result()).into_response()
}

/// Runs the flow's own `tests:` on its text, as `hotline flows test` does.
#[utoipa::path(post, path = "/flows/test", request_body = FlowSource, responses(
    (status = OK, description = "The run, passed or not.", body = TestRun),
    (status = BAD_REQUEST, description = "The body is not JSON.", body = ApiError),
    (status = UNSUPPORTED_MEDIA_TYPE, description = "The body is not sent as `application/json`.", body = ApiError),
    (status = UNPROCESSABLE_ENTITY, description = "The JSON has no `source`.", body = ApiError),
    (status = SERVICE_UNAVAILABLE, description = "The prompts directory cannot be read.", body = ApiError),
))]
async fn test(
    State(handles): State<Handles>,
    Checked(Json(body)): Checked<Json<FlowSource>>,
) -> Response {
    let Some(compiled) = compiled(&handles, body.source).await else {
        return no_prompts();
    };
    let catalog = handles.flows().catalog().clone();
    let report = tokio::task::spawn_blocking(move || {
        let Compiled {
            source,
            target,
            audio,
            ..
        } = compiled;
        run_source_tests(&target, &source, &catalog, &audio)
    })
    .await;
    let Ok(report) = report else {
        return ApiError::answer(StatusCode::INTERNAL_SERVER_ERROR, "the test run stopped");
    };
    let file = report.files.first();
    let run = TestRun {
        passed: report.passed(),
        tests_passed: file.map_or(0, |f| f.tests_passed),
        nodes: file.map_or(0, |f| f.nodes.len()),
        uncovered: file.map_or_else(Vec::new, |f| {
            f.nodes
                .iter()
                .filter(|n| !f.covered.contains(*n))
                .cloned()
                .collect()
        }),
        failure: report.failure.map(|f| TestFailed {
            test: f.test,
            message: f.message,
            transcript: f.transcript,
        }),
    };
    Json(run).into_response()
}

/// Runs one call through the flow's text on a virtual clock, as `hotline flows simulate --fixture` does.
#[utoipa::path(post, path = "/flows/simulate", request_body = SimulationRequest, responses(
    (status = OK, body = SimulationResult),
    (status = BAD_REQUEST, description = "The body is not JSON.", body = ApiError),
    (status = UNSUPPORTED_MEDIA_TYPE, description = "The body is not sent as `application/json`.", body = ApiError),
    (status = UNPROCESSABLE_ENTITY, description = "The flow has errors, or the fixture is not one.", body = ApiError),
    (status = SERVICE_UNAVAILABLE, description = "The prompts directory cannot be read.", body = ApiError),
))]
async fn simulation(
    State(handles): State<Handles>,
    Checked(Json(body)): Checked<Json<SimulationRequest>>,
) -> Response {
    let mut fixture = match body.fixture.as_deref().map(str::trim) {
        None | Some("") => Fixture::default(),
        Some(text) => match serde_saphyr::from_str::<Fixture>(text) {
            Ok(fixture) => fixture,
            Err(error) => {
                let message = format!("the fixture: {}", error.without_snippet());
                return ApiError::answer(StatusCode::UNPROCESSABLE_ENTITY, message);
            }
        },
    };
    let Some(compiled) = compiled(&handles, body.source).await else {
        return no_prompts();
    };
    let Ok((flow, _)) = compiled.outcome else {
        let message = "the flow has errors; check it first";
        return ApiError::answer(StatusCode::UNPROCESSABLE_ENTITY, message);
    };
    let input = SimulationInput {
        caller: body.caller,
        keys: body.keys,
        at_time: body.at.unwrap_or_else(Utc::now),
        language: body.language,
        split_roll: 0,
    };
    let audio = compiled.audio;
    let transcript =
        tokio::task::spawn_blocking(move || simulate(Arc::new(flow), &input, &mut fixture, &audio))
            .await;
    let Ok(transcript) = transcript else {
        return ApiError::answer(StatusCode::INTERNAL_SERVER_ERROR, "the simulation stopped");
    };
    Json(SimulationResult {
        transcript: transcript.to_string(),
        outcome: transcript.outcome.map(|o| format!("{o:?}")),
    })
    .into_response()
}

/// Publishes a flow: new calls get it, calls in progress keep their version.
///
/// The flow is written into the flows directory (the file of the live flow
/// with its id, else `<id>.yaml`), so the directory watcher agrees with it,
/// and recorded with who published it.
#[utoipa::path(post, path = "/flows/publish", request_body = FlowSource, responses(
    (status = OK, description = "Published and live.", body = Published),
    (status = BAD_REQUEST, description = "The body is not JSON.", body = ApiError),
    (status = CONFLICT, description = "Its file would replace another flow's.", body = ApiError),
    (status = UNSUPPORTED_MEDIA_TYPE, description = "The body is not sent as `application/json`.", body = ApiError),
    (status = UNPROCESSABLE_ENTITY, description = "The flow has errors (or the JSON has no `source`); nothing was published.", body = NotPublished),
    (status = SERVICE_UNAVAILABLE, description = "The prompts directory, the flows directory or the database cannot be used now.", body = ApiError),
))]
async fn publish_flow(
    State(handles): State<Handles>,
    Extension(caller): Extension<Caller>,
    Checked(Json(body)): Checked<Json<FlowSource>>,
) -> Response {
    publish_source(&handles, &caller, body.source).await
}

/// Publishes an earlier version of a flow again, as a new publication.
#[utoipa::path(post, path = "/flows/{flow}/rollback",
    params(("flow" = String, Path, description = "The flow's id.")),
    request_body = Rollback,
    responses(
        (status = OK, description = "The version is live again.", body = Published),
        (status = BAD_REQUEST, description = "The body is not JSON.", body = ApiError),
        (status = NOT_FOUND, description = "No such version of this flow was published.", body = ApiError),
        (status = CONFLICT, description = "Its file would replace another flow's.", body = ApiError),
        (status = UNSUPPORTED_MEDIA_TYPE, description = "The body is not sent as `application/json`.", body = ApiError),
        (status = UNPROCESSABLE_ENTITY, description = "The version no longer compiles here (e.g. a prompt was removed), or the JSON has no `version`.", body = NotPublished),
        (status = SERVICE_UNAVAILABLE, description = "The prompts directory, the flows directory or the database cannot be used now.", body = ApiError),
    ))]
async fn rollback(
    State(handles): State<Handles>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Checked(Json(body)): Checked<Json<Rollback>>,
) -> Response {
    let source = match flow_versions::source(handles.db(), &id, &body.version).await {
        Ok(Some(source)) => source,
        Ok(None) => {
            let message = format!("flow `{id}` has no published version `{}`", body.version);
            return ApiError::answer(StatusCode::NOT_FOUND, message);
        }
        Err(error) => return unavailable(error),
    };
    publish_source(&handles, &caller, source).await
}

async fn publish_source(handles: &Handles, caller: &Caller, source: String) -> Response {
    let Some(compiled) = compiled(handles, source).await else {
        return no_prompts();
    };
    let (flow, _) = match &compiled.outcome {
        Ok(compiled) => compiled,
        Err(errors) => return NotPublished::answer(errors),
    };
    let (id, version) = (flow.id().to_owned(), flow.version().clone());
    let flows = handles.flows();
    // Already live: nothing to write, and no new publication to record.
    if flows
        .get(&id)
        .is_some_and(|live| *live.version() == version)
    {
        return Json(Published {
            id,
            version: version.0,
        })
        .into_response();
    }
    let taken = flows.versions().into_iter().find_map(|(other, _)| {
        let live = flows.get(&other)?;
        (other != id && live.file() == compiled.target).then_some(other)
    });
    if let Some(other) = taken {
        let message = format!(
            "{} holds flow `{other}`; a flow published from here is named after its id",
            file_name(&compiled.target)
        );
        return ApiError::answer(StatusCode::CONFLICT, message);
    }
    let work = {
        let (flows, target, source) = (flows.clone(), compiled.target.clone(), compiled.source);
        let (id, version) = (id.clone(), version.clone());
        move || publish(&flows, &target, &id, &version, &source).map(|()| source)
    };
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(source)) => {
            let by = caller.name();
            tracing::info!(flow = %id, version = %version.0, by = %by, "flow published from the console");
            if let Err(error) =
                flow_versions::record(handles.db(), &id, &version.0, &source, &by).await
            {
                tracing::warn!(%error, flow = %id, "published, but the publication was not recorded");
                return unavailable(error);
            }
            Json(Published {
                id,
                version: version.0,
            })
            .into_response()
        }
        Ok(Err(PublishError::Rejected(problems))) => NotPublished::answer(&problems),
        Ok(Err(error @ PublishError::Io(_))) => {
            tracing::warn!(%error, "flow not published");
            ApiError::answer(StatusCode::SERVICE_UNAVAILABLE, error.to_string())
        }
        Err(_) => ApiError::answer(StatusCode::INTERNAL_SERVER_ERROR, "publishing stopped"),
    }
}

/// A flow's text compiled as it would be published: against the server's
/// catalog and prompts, under the file name it would get.
struct Compiled {
    source: String,
    target: PathBuf,
    audio: AudioDir,
    outcome: Result<(Flow, Vec<Diagnostic>), Vec<Diagnostic>>,
}

impl Compiled {
    fn result(&self) -> CheckResult {
        let (flow, problems) = match &self.outcome {
            Ok((flow, warnings)) => (Some(flow), warnings),
            Err(errors) => (None, errors),
        };
        CheckResult {
            publishable: flow.is_some(),
            id: flow.map(|f| f.id().to_owned()),
            version: flow.map(|f| f.version().0.clone()),
            problems: problems.iter().map(Problem::from).collect(),
        }
    }
}

/// Compiles `source`; `None` when the prompts directory cannot be read.
async fn compiled(handles: &Handles, source: String) -> Option<Compiled> {
    let flows = handles.flows().clone();
    let audio_dir = handles.audio_dir().to_owned();
    tokio::task::spawn_blocking(move || {
        let audio = AudioDir::open(&audio_dir).ok()?;
        let catalog = flows.catalog();
        // The id decides the file name, and the file name is part of the version.
        let first = compile(&source, &flows.dir().join("flow.yaml"), catalog, &audio);
        let target = match &first {
            Ok((flow, _)) => target_of(&flows, flow.id()),
            Err(_) => flows.dir().join("flow.yaml"),
        };
        let outcome = match first {
            Ok(_) => compile(&source, &target, catalog, &audio),
            Err(errors) => Err(errors),
        };
        if let Ok((flow, _)) = &outcome {
            debug_assert_eq!(*flow.version(), version_of(&target, &source));
        }
        Some(Compiled {
            source,
            target,
            audio,
            outcome,
        })
    })
    .await
    .ok()
    .flatten()
}

/// Where flow `id` is published: the live flow's file, else `<id>.yaml`
/// (an id that is not a plain file name gets a name made of its safe letters).
fn target_of(flows: &crate::call::flows::LiveFlows, id: &str) -> PathBuf {
    if let Some(live) = flows.get(id) {
        return live.file().to_owned();
    }
    let safe: String = id
        .chars()
        .map(
            |c| match c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                true => c,
                false => '_',
            },
        )
        .collect();
    flows.dir().join(format!("{safe}.yaml"))
}

/// The source of a live flow, read back from its file while it still holds that version.
fn source_of_live(flow: &Flow) -> Option<String> {
    let source = std::fs::read_to_string(flow.file()).ok()?;
    (version_of(flow.file(), &source) == *flow.version()).then_some(source)
}

fn file_name(path: &std::path::Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

impl From<&Diagnostic> for Problem {
    fn from(d: &Diagnostic) -> Self {
        Problem {
            severity: match d.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            },
            line: d.line,
            column: d.column,
            message: d.message.clone(),
        }
    }
}

fn unavailable(error: crate::crm::DbError) -> Response {
    tracing::warn!(%error, "flow versions not readable");
    ApiError::answer(
        StatusCode::SERVICE_UNAVAILABLE,
        "the database is not answering",
    )
}

fn no_prompts() -> Response {
    ApiError::answer(
        StatusCode::SERVICE_UNAVAILABLE,
        "the prompts directory cannot be read, so flows cannot be checked",
    )
}

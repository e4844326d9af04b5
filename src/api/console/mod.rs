//! The web console: sign-in, the wallboard and the reports page, served by
//! the binary itself as static HTML, CSS and ES modules (no build step, no
//! CDN). Pages read the same JSON routes as any other client; the browser
//! proves who it is with the session cookie it got at sign-in.

mod agent;
mod flow_versions;
mod flows;
mod lists;
mod publish;
pub mod rating;
mod series;
mod today;

use std::time::Instant;

use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Extension, Router};
use serde::Deserialize;

use super::access::{Caller, Gate, session};
use super::forwarded::Client;
use crate::api::Handles;

pub use today::Targets;

/// Sign-in and sign-out, open to everyone.
pub fn public_routes(gate: Gate, handles: Handles) -> Router {
    Router::new()
        .route("/login", get(login_page).post(sign_in))
        .route("/login/agent", axum::routing::post(agent::sign_in))
        .route("/logout", axum::routing::post(sign_out))
        .route("/console/{asset}", get(asset))
        .layer(Extension(handles))
        .with_state(gate)
}

/// The agent desktop, for an agent signed in with their SIP password.
pub fn agent_routes(gate: Gate) -> Router<Handles> {
    agent::routes(gate)
}

/// The pages and figures a monitor may see.
pub fn monitor_pages() -> Router<Handles> {
    Router::new()
        .route("/", get(|| page("Wallboard", WALLBOARD, "wallboard.js")))
        .route("/reports", get(|| page("Reports", REPORTS, "reports.js")))
}

/// The pages only an admin may open.
pub fn admin_pages() -> Router<Handles> {
    Router::new().route("/flows", get(|| page("Flows", FLOWS, "flows.js")))
}

/// The flows page's routes (admin).
pub fn admin_routes() -> utoipa_axum::router::OpenApiRouter<Handles> {
    flows::routes()
}

/// The wallboard's figures of today (monitor); they expect the [`Targets`] as an extension.
pub fn monitor_routes() -> utoipa_axum::router::OpenApiRouter<Handles> {
    today::routes()
        .merge(lists::routes())
        .merge(series::routes())
}

const LOGIN: &str = include_str!("assets/login.html");
/// The frame of every signed-in page: head, navigation, sign-out.
const PAGE: &str = include_str!("assets/page.html");
const WALLBOARD: &str = include_str!("assets/wallboard.html");
const REPORTS: &str = include_str!("assets/reports.html");
const FLOWS: &str = include_str!("assets/flows.html");

/// The static files pages load, by name.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "console.css",
        "text/css; charset=utf-8",
        include_str!("assets/console.css"),
    ),
    (
        "wallboard.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/wallboard.js"),
    ),
    (
        "reports.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/reports.js"),
    ),
    (
        "agent.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/agent.js"),
    ),
    (
        "softphone.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/softphone.js"),
    ),
    (
        // JsSIP (MIT), bundled once for the browser; see its header.
        "jssip.min.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/jssip.min.js"),
    ),
    (
        "lists.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/lists.js"),
    ),
    (
        "flows.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/flows.js"),
    ),
    (
        "figures.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/figures.js"),
    ),
];

async fn page(title: &str, main: &str, script: &str) -> Response {
    // Agents have one page; the others link to each other.
    let nav = match script {
        "agent.js" => "",
        _ => r#"<a href="/">Wallboard</a><a href="/reports">Reports</a><a href="/flows">Flows</a>"#,
    };
    let html = PAGE
        .replace("{title}", title)
        .replace("{nav}", nav)
        .replace("{main}", main)
        .replace("{script}", script);
    (no_store(), Html(html)).into_response()
}

async fn asset(axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, kind, body)) => ([(header::CONTENT_TYPE, *kind)], *body).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Pages show personal data: no cache keeps them after sign-out.
fn no_store() -> [(header::HeaderName, &'static str); 1] {
    [(header::CACHE_CONTROL, "no-store")]
}

async fn login_page() -> Response {
    (no_store(), Html(login_html(""))).into_response()
}

fn login_html(message: &str) -> String {
    LOGIN.replace("{message}", &escape_html(message))
}

#[derive(Deserialize)]
struct SignIn {
    token: String,
}

/// Checks the token and hands the browser its session cookie.
async fn sign_in(
    State(gate): State<Gate>,
    Extension(client): Extension<Client>,
    Form(form): Form<SignIn>,
) -> Response {
    if let Some(refusal) = too_many_failures(&gate, client) {
        return refusal;
    }
    match gate.sign_in(&form.token, crate::crm::now_ms()) {
        Some(secret) => (
            [(header::SET_COOKIE, session::set_cookie(&secret))],
            Redirect::to("/"),
        )
            .into_response(),
        None => {
            gate.sign_in_failed(client.ip, Instant::now());
            refused_login(
                StatusCode::UNAUTHORIZED,
                "That token is not valid, or it was revoked.",
            )
        }
    }
}

/// The refusal for an address that failed to sign in too often lately.
fn too_many_failures(gate: &Gate, client: Client) -> Option<Response> {
    gate.guessing(client.ip, Instant::now()).then(|| {
        let message = "Too many failed sign-ins from your address; try again in a few minutes.";
        refused_login(StatusCode::TOO_MANY_REQUESTS, message)
    })
}

/// The sign-in page again, saying why not.
fn refused_login(status: StatusCode, message: &str) -> Response {
    (status, no_store(), Html(login_html(message))).into_response()
}

async fn sign_out(
    State(gate): State<Gate>,
    Extension(sip): Extension<crate::api::sip_websocket::BrowserSip>,
    headers: HeaderMap,
) -> Response {
    crate::api::sip_websocket::signed_out(&sip, &headers);
    let secret = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(session::from_cookie);
    if let Some(secret) = secret {
        gate.sign_out(secret);
    }
    (
        [(header::SET_COOKIE, session::clear_cookie())],
        Redirect::to("/login"),
    )
        .into_response()
}

/// The page a browser gets when its role may not see what it asked for.
pub fn refused(message: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Not allowed · hotline</title><link rel=\"stylesheet\" href=\"/console/console.css\">\
         </head><body><main class=\"narrow\"><h1>Not allowed</h1><p role=\"alert\">{}</p>\
         <p><a href=\"/\">Wallboard</a> · <a href=\"/login\">Sign in as someone else</a></p>\
         </main></body></html>",
        escape_html(message)
    )
}

/// The caller's role, as the pages' header shows it.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct WhoAmI {
    /// `monitor`, `supervisor` or `admin`.
    role: &'static str,
}

/// Who is signed in (or whose token this is), for the pages' header.
#[utoipa::path(get, path = "/console/whoami", responses((status = OK, body = WhoAmI)))]
pub async fn whoami(Extension(caller): Extension<Caller>) -> axum::Json<WhoAmI> {
    axum::Json(WhoAmI {
        role: caller.role.as_str(),
    })
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

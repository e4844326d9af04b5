//! Calls from web pages over HTTP, in the manner of WHIP (RFC 9725): the
//! page `POST`s its SDP offer and gets `201 Created` with the SDP answer and
//! a `Location`; a `DELETE` of that location hangs up. And the "call us"
//! widget that does so: `GET /widget.js` for one script tag on a company's
//! page, `GET /call` for a page of its own (or an iframe).
//!
//! Browsers' pages of other origins may place calls only when listed in
//! `[webrtc] allowed_origins` (CORS, and `frame-ancestors` for the iframe);
//! the server's own pages always may. None of this needs a token: a web
//! caller is anyone, so the SIP endpoint's limits apply to offers instead.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Handles;
use super::error::ApiError;
use super::forwarded::Client;
use crate::call::web::{OfferRefused, WebCalls};

/// The header a site passes its signed claim of who the visitor is in.
const CUSTOMER_HEADER: &str = "x-hotline-customer";

const WIDGET: &str = include_str!("console/assets/widget.js");
const CALL_PAGE: &str = include_str!("console/assets/call.html");

/// The offer/answer routes (in the OpenAPI document), with their preflights.
pub fn routes() -> OpenApiRouter<Handles> {
    OpenApiRouter::new()
        .routes(routes!(offer))
        .routes(routes!(hang_up))
        .route("/webrtc/calls", axum::routing::options(preflight))
        .route("/webrtc/calls/{id}", axum::routing::options(preflight))
}

/// The widget's script and page (not in the OpenAPI document).
pub fn widget() -> Router<Handles> {
    Router::new()
        .route("/widget.js", get(widget_script))
        .route("/call", get(call_page))
}

/// The answer of a server that takes no web calls.
fn disabled() -> Response {
    ApiError::answer(
        StatusCode::NOT_FOUND,
        "this server takes no calls from web pages ([webrtc] enabled = false)",
    )
}

/// Starts a call from a browser: its SDP offer in, the SDP answer out.
///
/// The call enters the published flow as a web caller. A site may name its
/// signed-in visitor with a signed token in `X-Hotline-Customer` (see the
/// README); a token that does not verify is ignored.
#[utoipa::path(post, path = "/webrtc/calls",
    request_body(content = String, content_type = "application/sdp", description = "The browser's SDP offer."),
    params(("X-Hotline-Customer" = Option<String>, Header, description = "The site's signed claim of who the visitor is.")),
    responses(
        (status = CREATED, description = "The SDP answer; `Location` is the call's, to `DELETE` to hang up.",
         body = String, content_type = "application/sdp"),
        (status = BAD_REQUEST, description = "The offer is not SDP, has no audio, or no G.711.", body = ApiError),
        (status = FORBIDDEN, description = "The page's origin may not place calls.", body = ApiError),
        (status = NOT_FOUND, description = "This server takes no calls from web pages.", body = ApiError),
        (status = TOO_MANY_REQUESTS, description = "Too many offers or calls from this address.", body = ApiError),
        (status = SERVICE_UNAVAILABLE, description = "The hotline is busy or takes no calls now.", body = ApiError),
    ))]
async fn offer(
    State(handles): State<Handles>,
    Extension(client): Extension<Client>,
    headers: HeaderMap,
    sdp: String,
) -> Response {
    let Some(calls) = handles.web_calls() else {
        return disabled();
    };
    let cors = match Cors::check(calls, &headers) {
        Ok(cors) => cors,
        Err(foreign) => {
            calls.refused_origin();
            return foreign.answer();
        }
    };
    let customer = headers.get(CUSTOMER_HEADER).and_then(|v| v.to_str().ok());
    let answered = calls.offer(client.ip, sdp, customer).await;
    let response = match answered {
        Ok(answered) => {
            let location = format!("/webrtc/calls/{}", answered.id);
            (
                StatusCode::CREATED,
                [
                    (header::CONTENT_TYPE, "application/sdp".to_owned()),
                    (header::LOCATION, location),
                ],
                answered.sdp,
            )
                .into_response()
        }
        Err(refused) => {
            let status = match refused {
                OfferRefused::BadOffer(_) | OfferRefused::NoG711 => StatusCode::BAD_REQUEST,
                OfferRefused::RateLimited => StatusCode::TOO_MANY_REQUESTS,
                OfferRefused::Busy | OfferRefused::NoFlow => StatusCode::SERVICE_UNAVAILABLE,
            };
            let mut response = ApiError::answer(status, refused.to_string());
            if status != StatusCode::BAD_REQUEST {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            response
        }
    };
    cors.apply(response)
}

/// Hangs up a call started with `POST /webrtc/calls`.
#[utoipa::path(delete, path = "/webrtc/calls/{id}",
    params(("id" = String, Path, description = "The id in the offer's `Location`.")),
    responses(
        (status = NO_CONTENT, description = "The call is being hung up."),
        (status = FORBIDDEN, description = "The page's origin may not place calls.", body = ApiError),
        (status = NOT_FOUND, description = "No such call (it has ended).", body = ApiError),
    ))]
async fn hang_up(
    State(handles): State<Handles>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(calls) = handles.web_calls() else {
        return disabled();
    };
    let cors = match Cors::check(calls, &headers) {
        Ok(cors) => cors,
        Err(foreign) => return foreign.answer(),
    };
    let response = if calls.hang_up(&id) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        ApiError::answer(StatusCode::NOT_FOUND, "no such call; it has ended")
    };
    cors.apply(response)
}

/// A CORS preflight of a page of another origin.
async fn preflight(State(handles): State<Handles>, headers: HeaderMap) -> Response {
    let Some(calls) = handles.web_calls() else {
        return disabled();
    };
    match Cors::check(calls, &headers) {
        Ok(cors) => {
            let mut response = cors.apply(StatusCode::NO_CONTENT.into_response());
            let set = response.headers_mut();
            set.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("POST, DELETE"),
            );
            set.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("content-type, x-hotline-customer"),
            );
            set.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("600"),
            );
            response
        }
        Err(foreign) => {
            // A browser sends no offer after a refused preflight: count it here.
            calls.refused_origin();
            foreign.answer()
        }
    }
}

async fn widget_script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        WIDGET,
    )
        .into_response()
}

/// The widget alone on a page; other origins may frame it only when allowed.
async fn call_page(State(handles): State<Handles>) -> Response {
    let mut ancestors = String::from("frame-ancestors 'self'");
    let allowed = handles.web_calls().map(WebCalls::allowed_origins);
    for origin in allowed.unwrap_or_default() {
        ancestors.push(' ');
        ancestors.push_str(origin);
    }
    let policy = HeaderValue::from_str(&ancestors)
        .unwrap_or_else(|_| HeaderValue::from_static("frame-ancestors 'self'"));
    let mut response = Html(CALL_PAGE).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_SECURITY_POLICY, policy);
    response
}

/// What a request's `Origin` allows: nothing to add (no origin, or the
/// server's own), or the CORS headers of an allowed other origin.
struct Cors(Option<HeaderValue>);

impl Cors {
    /// The request's origin judged: a page of an origin not allowed is answered 403.
    fn check(calls: &WebCalls, headers: &HeaderMap) -> Result<Cors, ForeignOrigin> {
        let Some(origin) = headers.get(header::ORIGIN) else {
            // Not a browser's cross-origin request (curl, a server): CORS
            // protects browsers' users, and the limits apply to all.
            return Ok(Cors(None));
        };
        let text = origin.to_str().unwrap_or_default();
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        let own = text
            .split_once("://")
            .is_some_and(|(_, authority)| !host.is_empty() && authority == host);
        if own {
            return Ok(Cors(None));
        }
        if calls
            .allowed_origins()
            .iter()
            .any(|allowed| allowed == text)
        {
            return Ok(Cors(Some(origin.clone())));
        }
        Err(ForeignOrigin(text.to_owned()))
    }

    fn apply(self, mut response: Response) -> Response {
        if let Some(origin) = self.0 {
            let set = response.headers_mut();
            set.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            set.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static("location"),
            );
            set.insert(header::VARY, HeaderValue::from_static("origin"));
        }
        response
    }
}

/// The origin of a page that may not place calls.
struct ForeignOrigin(String);

impl ForeignOrigin {
    fn answer(&self) -> Response {
        let origin = &self.0;
        ApiError::answer(
            StatusCode::FORBIDDEN,
            format!("pages of {origin} may not place calls (see [webrtc] allowed_origins)"),
        )
    }
}

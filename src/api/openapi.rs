//! `GET /openapi.json`: the admin API as an OpenAPI 3.1 document.
//!
//! Every route is added with the `#[utoipa::path]` description on its handler
//! ([`utoipa_axum::routes!`] routes and documents it in one step), and
//! [`guarded`] both puts a group behind its role and writes that role into its
//! operations, so the document cannot disagree with what the server serves.
//!
//! The document is served to anyone, like `/health`: it holds no personal data
//! and no secret, it is the same for every server of a version, and a client
//! needs it to learn how to authenticate before it holds a token.

use std::sync::Arc;

use axum::http::header;
use axum::response::IntoResponse;
use axum::{Extension, Router};
use utoipa::OpenApi;
use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::header::Header;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
use utoipa_axum::router::OpenApiRouter;

use super::access::{self, Gate, Role};
use super::error::ApiError;

/// The name of the security scheme in the document.
const BEARER: &str = "bearer";

/// The extension naming the role an operation needs.
const ROLE_EXTENSION: &str = "x-hotline-role";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "hotline admin API",
        description = "Live figures, reports, the agent queue and registrations of a hotline \
                       server. Tokens are made with `hotline tokens add NAME --role ROLE` and \
                       sent as `Authorization: Bearer`; each operation names the role it needs \
                       (tag and `x-hotline-role`). Personal data is masked per role."
    ),
    components(schemas(ApiError)),
    modifiers(&BearerScheme)
)]
struct Frame;

/// The document before any route is added: its title, version and security scheme.
pub fn frame() -> utoipa::openapi::OpenApi {
    Frame::openapi()
}

/// Puts every route of `router` behind `role`, and says so in each operation:
/// the bearer scheme, the role (as a tag, in words and as `x-hotline-role`),
/// and the 401 and 403 answers of [`access::require`].
pub fn guarded<S>(mut router: OpenApiRouter<S>, role: Role, gate: &Gate) -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    for item in router.get_openapi_mut().paths.paths.values_mut() {
        operations(item).for_each(|operation| require(operation, role));
    }
    router.route_layer(axum::middleware::from_fn_with_state(
        (gate.clone(), role),
        access::require,
    ))
}

/// Serves `document` at `/openapi.json` on `app`.
pub fn serve_document(app: Router, document: &utoipa::openapi::OpenApi) -> Router {
    let json: Arc<str> = document
        .to_json()
        .expect("an OpenAPI document serializes")
        .into();
    app.route("/openapi.json", axum::routing::get(openapi_json))
        .layer(Extension(Document(json)))
}

/// The document as sent.
#[derive(Clone)]
struct Document(Arc<str>);

async fn openapi_json(Extension(Document(json)): Extension<Document>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        json.to_string(),
    )
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

fn require(operation: &mut Operation, role: Role) {
    operation.security = Some(vec![SecurityRequirement::new(BEARER, Vec::<String>::new())]);
    operation
        .tags
        .get_or_insert_with(Vec::new)
        .push(role.as_str().to_owned());
    let needs = format!("Needs the `{role}` role or a higher one.");
    operation.description = Some(match operation.description.take() {
        Some(what) => format!("{what}\n\n{needs}"),
        None => needs,
    });
    operation
        .extensions
        .get_or_insert_with(Default::default)
        .merge(
            ExtensionsBuilder::new()
                .add(ROLE_EXTENSION, role.as_str())
                .build(),
        );
    let responses = &mut operation.responses.responses;
    let unauthorized = refusal("No bearer token, or an unknown or revoked one.")
        .header(header::WWW_AUTHENTICATE.as_str(), Header::default());
    responses.insert("401".into(), unauthorized.build().into());
    let forbidden = refusal(&format!(
        "The token's role is below `{role}`, or no token exists and the caller is not on loopback."
    ));
    responses.insert("403".into(), forbidden.build().into());
}

fn refusal(description: &str) -> ResponseBuilder {
    let body = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("ApiError")))
        .build();
    ResponseBuilder::new()
        .description(description)
        .content("application/json", body)
}

/// Adds the bearer scheme to the document's components.
struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(
                "An API token made with `hotline tokens add`. While no token exists, callers \
                 on loopback are served without one, as admin.",
            ))
            .build();
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(BEARER, SecurityScheme::Http(scheme));
    }
}

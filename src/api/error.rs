//! The admin API's error answer, `{"error": "..."}`, and the extractor that
//! answers malformed input with it instead of axum's plain text.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Why a request was not done, in words for the person who sent it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApiError {
    pub error: String,
}

impl ApiError {
    /// The answer `status` with `error` as its reason.
    pub fn answer(status: StatusCode, error: impl Into<String>) -> Response {
        let body = ApiError {
            error: error.into(),
        };
        (status, axum::Json(body)).into_response()
    }
}

/// An extractor (`Json`, `Query`) whose refusal is answered with its status
/// (400, 415 or 422) and an [`ApiError`] saying what was wrong.
pub struct Checked<E>(pub E);

/// The extractor marker of [`Checked`]: axum's own markers would clash with
/// its blanket implementation for extractors of request parts.
pub struct ViaChecked<M>(std::marker::PhantomData<M>);

impl<S, M, E> FromRequest<S, ViaChecked<M>> for Checked<E>
where
    S: Send + Sync,
    E: FromRequest<S, M>,
    E::Rejection: Explained,
{
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        E::from_request(request, state)
            .await
            .map(Checked)
            .map_err(|refusal| ApiError::answer(refusal.status(), refusal.body_text()))
    }
}

/// An axum rejection: its status and what it says.
pub trait Explained {
    fn status(&self) -> StatusCode;
    fn body_text(&self) -> String;
}

macro_rules! explained {
    ($($rejection:ty),*) => {$(
        impl Explained for $rejection {
            fn status(&self) -> StatusCode {
                <$rejection>::status(self)
            }
            fn body_text(&self) -> String {
                <$rejection>::body_text(self)
            }
        }
    )*};
}

explained!(JsonRejection, QueryRejection);

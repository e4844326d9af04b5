//! A CRM webhook for tests: records every POST, fails or delays as told.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};

/// One POST as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub idempotency_key: String,
    pub signature: String,
    pub body: Vec<u8>,
}

/// How the receiver answers.
#[derive(Clone, Default)]
pub struct Behaviour {
    /// Answer 500 to this many requests first.
    pub fail_first: usize,
    /// Hold the first request this long before answering it.
    pub delay_first: Option<Duration>,
    /// Never answer a request for the ticket with this number.
    pub hang_on: Option<String>,
}

#[derive(Clone)]
struct Shared {
    seen: Arc<Mutex<Vec<Delivery>>>,
    behaviour: Behaviour,
}

/// A running receiver.
pub struct Receiver {
    pub url: String,
    seen: Arc<Mutex<Vec<Delivery>>>,
}

impl Receiver {
    /// Starts on 127.0.0.1 in the current tokio runtime.
    pub async fn start(behaviour: Behaviour) -> Receiver {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let shared = Shared {
            seen: seen.clone(),
            behaviour,
        };
        let app = axum::Router::new()
            .route("/tickets", axum::routing::post(receive))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver {
            url: format!("http://{addr}/tickets"),
            seen,
        }
    }

    /// Every request received so far.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.seen.lock().unwrap().clone()
    }
}

async fn receive(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let index = {
        let mut seen = shared.seen.lock().unwrap();
        seen.push(Delivery {
            idempotency_key: header("idempotency-key"),
            signature: header("x-hotline-signature"),
            body: body.to_vec(),
        });
        seen.len()
    };
    let number = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|ticket| ticket["number"].as_str().map(str::to_owned));
    if number.is_some() && number == shared.behaviour.hang_on {
        std::future::pending::<()>().await;
    }
    if let (1, Some(delay)) = (index, shared.behaviour.delay_first) {
        tokio::time::sleep(delay).await;
    }
    if index <= shared.behaviour.fail_first {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}

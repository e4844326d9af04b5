//! The composition root: configuration → database → services → listeners,
//! built top-down in one place, and one way to shut down.
//!
//! `hotline serve` runs [`run`]. Each piece is built once what it needs
//! exists, so nothing is wired at run time: the database before the services,
//! the services before the SIP endpoint that hands them calls, the endpoint
//! before the registrar and the agent queue that ring through it, and the
//! admin HTTP API last, with the handles it serves.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::mpsc;
use tracing::info;

use crate::call::Services;
use crate::config::Config;
use crate::crm::Db;
use crate::server::{
    admission, advertised_ip, agent_leg, endpoint, limits, media, registrar, transport,
};
use crate::sip::ua::{UaConfig, UserAgent};

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen for SIP on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Startup(String),
}

/// Inbound messages waiting for the endpoint; past this the receive loops wait.
const INBOUND_QUEUE: usize = 8192;

/// Runs the server until SIGINT or SIGTERM.
pub async fn run(config: Config) -> Result<(), ServerError> {
    let db = Db::connect_seeded(&config.database.url, config.database.seed_demo)
        .await
        .map_err(|e| ServerError::Startup(e.to_string()))?;
    // Before any socket opens: an API open to the network needs an admin token.
    let gate = crate::api::access::Gate::load(db.clone())
        .await
        .map_err(|e| ServerError::Startup(format!("API tokens: {e}")))?;
    gate.check_exposure(config.http.listen)
        .map_err(|e| ServerError::Startup(e.to_string()))?;
    media::set_realtime_priority(config.media.realtime_priority);
    let limit_stats = Arc::<limits::LimitStats>::default();
    open_file_limit(&config, &limit_stats);

    // Bound before the services, which write its address in the calls they
    // place; nothing is read from it until the endpoint starts.
    let listener = transport::Listener::bind(config.sip.listen)
        .await
        .map_err(|source| ServerError::Listen {
            addr: config.sip.listen,
            source,
        })?;
    let local = listener.local;
    // On a cluster, the address the proxy's list gives this node, if set.
    let advertised = config
        .cluster()
        .and_then(|cluster| cluster.address)
        .unwrap_or_else(|| {
            SocketAddr::new(
                advertised_ip(local.ip(), config.sip.public_address),
                local.port(),
            )
        });
    let webrtc = match config.webrtc.enabled {
        true => Some(Arc::new(
            crate::webrtc::Driver::bind(&config.webrtc)
                .await
                .map_err(|e| ServerError::Startup(e.to_string()))?,
        )),
        false => None,
    };
    let (queue, queue_inbox) = crate::call::queue::channel();
    let services = Services::start(&config, db, queue, advertised, limit_stats.clone(), webrtc)
        .await
        .map_err(|e| ServerError::Startup(e.to_string()))?;

    let (inbound_tx, inbound_rx) = mpsc::channel(INBOUND_QUEUE);
    let tcp_limits = transport::TcpLimits::new(config.limits.clone(), limit_stats.clone());
    let outbound = listener.start(inbound_tx, tcp_limits);
    let websockets = outbound.clone();

    let mut ua = UserAgent::new(
        UaConfig::new(advertised, config.sip.user_agent.clone()),
        rand::random(),
    );
    if let Some(cluster) = config.cluster() {
        ua.designate_acd(cluster.acd_user.clone());
    }
    let limits = endpoint::EndpointLimits::new(
        config.sip.max_calls,
        config.sip.retry_after_seconds,
        config.limits.clone(),
        limit_stats,
    )
    .with_admission(
        admission::Admission::new(config.admission.clone(), std::time::Instant::now()),
        services.setup_load(),
    );
    let handler: endpoint::CallHandler = {
        let services = services.clone();
        Arc::new(move |call| {
            tokio::spawn(crate::call::run(services.clone(), call));
        })
    };
    let (registers, registers_rx) = registrar::channel();
    let sip_metrics = services.metrics().sip.clone();
    // On a cluster, this node relays the ACD's requests to the browsers
    // whose WebSocket is open here, wherever the ACD runs.
    let relay = config
        .cluster()
        .map(|_| crate::sip::relay::BrowserRelay::new(advertised, rand::random()));
    let endpoint = endpoint::spawn_relaying(
        ua,
        inbound_rx,
        outbound,
        limits,
        handler,
        registers,
        sip_metrics.clone(),
        relay.clone(),
    );
    // Passwords the agent desktop's softphone registers with, one per page load.
    let minted =
        crate::registrar::SessionCredentials::new(config.registrar.core_config().digest.realm);
    // A pool of its own, so credential lookups never queue behind call records.
    let registrar_db = crate::crm::Db::open(&config.database.url)
        .await
        .map_err(|e| ServerError::Startup(e.to_string()))?;
    let registrar = registrar::spawn(
        config.registrar.core_config(),
        registrar_db,
        registers_rx,
        endpoint.clone(),
        sip_metrics,
        minted.clone(),
        registrar::Publish {
            node: config
                .cluster()
                .map(|cluster| cluster.node_id.clone())
                .unwrap_or_default(),
            relay,
        },
    )
    .await;
    // Agents' browsers are rung only when there is WebRTC media to give them.
    let browsers = services.webrtc().cloned().map(agent_leg::webrtc_answerer);
    // And those open on other nodes, when this node runs the ACD.
    let relayed = browsers
        .clone()
        .map(|answerer| crate::call::relayed::Following {
            browsers: Default::default(),
            me: advertised,
            answerer,
        });
    let directory: crate::call::queue::Directory = {
        let registrar = registrar.clone();
        Arc::new(move |agent: &str| {
            registrar
                .contacts(agent)
                .into_iter()
                .filter_map(|binding| agent_leg::ring_target(&binding, browsers.as_ref()))
                .collect()
        })
    };
    match config.cluster() {
        None => services.start_queue(queue_inbox, endpoint.clone(), directory),
        Some(cluster) => {
            let role = crate::cluster::lock::spawn(
                &config.database.url,
                &cluster.node_id,
                cluster.timing(),
            )
            .map_err(|e| ServerError::Startup(e.to_string()))?;
            let registered: Arc<dyn Fn() -> Vec<String> + Send + Sync> = {
                let registrar = registrar.clone();
                Arc::new(move || registrar.registered().into_iter().map(|(a, _)| a).collect())
            };
            info!(node = %cluster.node_id, "cluster node: the ACD runs while this node holds the lock");
            let queue = services.queue().clone();
            tokio::spawn(crate::cluster::feed::run(
                config.database.url.clone(),
                services.db().clone(),
                move |event| queue.relay(event),
            ));
            services.start_cluster_queue(
                queue_inbox,
                endpoint.clone(),
                directory,
                role,
                registered,
                relayed,
            )
        }
    }
    .map_err(|e| ServerError::Startup(e.to_string()))?;
    tokio::spawn(crate::call::follow_registrations(
        services.db().clone(),
        registrar.clone(),
        services.queue().clone(),
    ));

    let targets = crate::api::console::Targets::of(&config.queues);
    let handles = crate::api::Handles::new(
        services.db().clone(),
        services.flows().clone(),
        services.queue().clone(),
        services.monitor(),
        services.metrics().clone(),
        config.audio.dir.clone(),
    )
    .with_web_calls(crate::call::web::WebCalls::new(&services, endpoint.clone()));
    let tls = match (&config.http.tls_certificate, &config.http.tls_key) {
        (Some(certificate), Some(key)) => Some(
            crate::api::tls::acceptor(certificate, key)
                .map_err(|e| ServerError::Startup(e.to_string()))?,
        ),
        _ => None,
    };
    let browser_sip = crate::api::sip_websocket::BrowserSip {
        outbound: websockets,
        endpoint: endpoint.clone(),
        registrar: registrar.clone(),
        credentials: minted,
        stats: Arc::default(),
        media: services.webrtc().is_some(),
    };
    let http = crate::api::serve(
        config.http.listen,
        tls,
        crate::api::forwarded::TrustedProxies::from_settings(&config.http),
        handles,
        registrar,
        gate,
        targets,
        browser_sip,
    )
    .await
    .map_err(|e| ServerError::Startup(format!("admin HTTP on {}: {e}", config.http.listen)))?;

    info!(sip = %local, http = %http, "{config}");
    // The line tests and scripts wait for; it carries the bound addresses.
    println!("ready sip={local} http={http}");

    shutdown_signal().await;
    info!("shutting down");
    services.shutdown().await;
    Ok(())
}

/// Raises the open-file limit as far as allowed and says what it is, with a
/// warning when it cannot hold the configured calls and TCP connections.
fn open_file_limit(config: &Config, stats: &limits::LimitStats) {
    match limits::raise_open_file_limit() {
        Ok(limit) => {
            stats
                .open_file_limit
                .store(limit, std::sync::atomic::Ordering::Relaxed);
            // An RTP socket per call leg (a caller and an agent), the TCP
            // connections, and some for the database, files and the API.
            let needed =
                2 * config.sip.max_calls as u64 + config.limits.tcp_max_connections as u64 + 64;
            if limit < needed {
                tracing::warn!(
                    open_file_limit = limit,
                    needed,
                    "the open-file limit is below what sip.max_calls and limits.tcp_max_connections need; raise the hard limit (ulimit -Hn, LimitNOFILE=) or lower them"
                );
            } else {
                info!(open_file_limit = limit, "open-file limit");
            }
        }
        Err(error) => tracing::warn!(%error, "cannot read or raise the open-file limit"),
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

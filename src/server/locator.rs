//! Where a SIP URI's requests go, found with DNS (RFC 3263 §4): SRV records
//! for a name without a port, then the address of the name. What to ask and
//! the order of SRV answers are in `sip::locate`; this is the lookup.
//!
//! Only the first target in SRV order is used: ringing forks to every target
//! given, so fail-over to the next one is not built.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::xfer::Protocol;
use tracing::{debug, warn};

use crate::server::agent_leg::RingTarget;
use crate::sip::locate::{SrvTarget, srv_name, srv_order};
use crate::sip::message::{Host, Uri};
use crate::sip::transaction::{Remote, Transport};

/// The DNS lookups of the process; cheap to clone.
#[derive(Clone)]
pub struct Locator {
    /// None when the system's resolver configuration cannot be read: names
    /// are then resolved by the operating system, without SRV.
    resolver: Option<Arc<TokioResolver>>,
}

impl std::fmt::Debug for Locator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Locator")
            .field("dns", &self.resolver.is_some())
            .finish()
    }
}

impl Locator {
    /// Asks `dns_servers` (UDP), or the system's when the list is empty.
    pub fn new(dns_servers: &[SocketAddr]) -> Locator {
        let resolver = if dns_servers.is_empty() {
            match TokioResolver::builder_tokio() {
                Ok(builder) => Some(builder.build()),
                Err(error) => {
                    warn!(%error, "no system DNS configuration; SIP names resolve without SRV");
                    None
                }
            }
        } else {
            let mut config = ResolverConfig::new();
            for server in dns_servers {
                config.add_name_server(NameServerConfig::new(*server, Protocol::Udp));
            }
            let mut options = ResolverOpts::default();
            options.attempts = 2;
            Some(
                TokioResolver::builder_with_config(config, TokioConnectionProvider::default())
                    .with_options(options)
                    .build(),
            )
        };
        Locator {
            resolver: resolver.map(Arc::new),
        }
    }

    /// Where requests for `uri` go; None when it is no SIP URI or nothing resolves.
    pub async fn locate(&self, uri: &str) -> Option<RingTarget> {
        let parsed = crate::sip::uri::parse_uri(uri).ok()?;
        let Uri::Sip(sip) = &parsed else {
            return None;
        };
        let transport = match sip.params.value("transport") {
            Some(value) if value.eq_ignore_ascii_case("tcp") => Transport::Tcp,
            _ => Transport::Udp,
        };
        let addr = match (&sip.host, sip.port) {
            (Host::Ipv4(ip), port) => SocketAddr::new((*ip).into(), port.unwrap_or(5060)),
            (Host::Ipv6(ip), port) => SocketAddr::new((*ip).into(), port.unwrap_or(5060)),
            (Host::Name(name), Some(port)) => SocketAddr::new(self.address(name).await?, port),
            (Host::Name(name), None) => match self.first_srv(name, transport).await {
                Some(target) => SocketAddr::new(self.address(&target.target).await?, target.port),
                None => SocketAddr::new(self.address(name).await?, 5060),
            },
        };
        debug!(%addr, "SIP target located");
        Some(RingTarget {
            browser: None,
            uri: parsed.clone(),
            remote: Remote { addr, transport },
            route: Vec::new(),
        })
    }

    async fn first_srv(&self, host: &str, transport: Transport) -> Option<SrvTarget> {
        let resolver = self.resolver.as_ref()?;
        let answers = resolver.srv_lookup(srv_name(host, transport)).await.ok()?;
        let targets = answers
            .iter()
            .map(|srv| SrvTarget {
                priority: srv.priority(),
                weight: srv.weight(),
                port: srv.port(),
                target: srv.target().to_utf8(),
            })
            .collect();
        srv_order(targets, &mut rand::rng()).into_iter().next()
    }

    async fn address(&self, name: &str) -> Option<IpAddr> {
        match &self.resolver {
            Some(resolver) => resolver.lookup_ip(name).await.ok()?.iter().next(),
            None => tokio::net::lookup_host((name, 0))
                .await
                .ok()?
                .next()
                .map(|a| a.ip()),
        }
    }
}

//! Calls from web pages: a browser's SDP offer becomes a call that enters
//! the published flow like an INVITE (greeting, keys, tickets, the queue),
//! its caller shown as a web caller with no number.
//!
//! [`WebCalls`] is the HTTP layer's handle: it applies the same limits as
//! the SIP endpoint (per-source rate and calls, admission control of the
//! set-up path, `sip.max_calls`), answers the offer through the WebRTC
//! driver, starts the call's task, and hangs a call up when its page asks.
//!
//! A site may say who its signed-in visitor is with a [`CustomerToken`],
//! signed with the `[webrtc] customer_key` it shares with hotline; an
//! unsigned, altered or expired claim is ignored (the caller is anonymous),
//! so a page cannot make itself someone else to hear their data. A valid
//! claim is looked up where phone callers are identified (the company's
//! CRM, see `Crm::find_customer`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::oneshot;
use tracing::{info, warn};

use super::drive::Drive;
use super::web_leg::WebLeg;
use super::{Channel, Outcome, Services, Started, account, core_settings};
use crate::server::admission::{Admission, SetupLoad};
use crate::server::endpoint::EndpointHandle;
use crate::server::limits::{SourceLimiter, Verdict};
use crate::server::media::{self, MediaOptions};
use crate::sip::ua::CallId;
use crate::webrtc::{Driver, DriverError, OfferError};

/// How long a customer lookup for a signed claim may take before the caller
/// goes on as anonymous.
const LOOKUP_WAIT: Duration = Duration::from_secs(2);

/// Calls from web pages: answers offers and hangs calls up.
#[derive(Clone)]
pub struct WebCalls(Arc<Shared>);

struct Shared {
    services: Services,
    /// The SIP endpoint agents and transfer targets are rung on.
    endpoint: EndpointHandle,
    driver: Arc<Driver>,
    limits: Mutex<Limits>,
    /// Each live web call's hang-up, by the id in its `Location`.
    live: Mutex<HashMap<String, oneshot::Sender<()>>>,
}

/// The SIP endpoint's limits, applied to offers.
struct Limits {
    sources: SourceLimiter,
    admission: Admission,
    load: SetupLoad,
}

/// Why an offer was not answered, and whose fault that is.
#[derive(Debug, thiserror::Error)]
pub enum OfferRefused {
    /// The page's fault: the offer is not SDP, has no audio, or was refused.
    #[error("{0}")]
    BadOffer(OfferError),
    /// The page's fault: a browser offers G.711 (RFC 7874); this one did not.
    #[error("the offer has no G.711 (PCMU or PCMA) audio; hotline speaks G.711 only")]
    NoG711,
    /// This address asks too often, or has too many calls.
    #[error("too many calls from this address; try again later")]
    RateLimited,
    /// The server is saturated (admission control, `sip.max_calls`).
    #[error("the hotline is busy; try again shortly")]
    Busy,
    /// The flow that answers calls is not published.
    #[error("the hotline is not taking calls now")]
    NoFlow,
}

impl OfferRefused {
    /// The label `hotline_webrtc_offers` counts it under.
    pub fn label(&self) -> &'static str {
        match self {
            OfferRefused::BadOffer(_) => "malformed",
            OfferRefused::NoG711 => "no_g711",
            OfferRefused::RateLimited => "rate_limited",
            OfferRefused::Busy => "busy",
            OfferRefused::NoFlow => "no_flow",
        }
    }
}

/// An answered offer: the call's id (for its `Location`) and the SDP answer.
#[derive(Debug)]
pub struct Answered {
    pub id: String,
    pub sdp: String,
}

impl WebCalls {
    /// Web calls on the services' WebRTC driver; `None` when `[webrtc]` is
    /// not enabled.
    pub fn new(services: &Services, endpoint: EndpointHandle) -> Option<WebCalls> {
        let driver = Arc::clone(services.webrtc()?);
        let config = services.config();
        let now = Instant::now();
        let limits = Limits {
            sources: SourceLimiter::new(config.limits.clone(), now),
            admission: Admission::new(config.admission.clone(), now),
            load: services.setup_load(),
        };
        Some(WebCalls(Arc::new(Shared {
            services: services.clone(),
            endpoint,
            driver,
            limits: Mutex::new(limits),
            live: Mutex::default(),
        })))
    }

    /// The origins besides the server's own whose pages may place calls.
    pub fn allowed_origins(&self) -> &[String] {
        &self.0.services.config().webrtc.allowed_origins
    }

    /// Takes a browser's offer from `source`, with the site's signed claim
    /// of who the visitor is, if any: the call starts and its answer comes back.
    pub async fn offer(
        &self,
        source: IpAddr,
        sdp: String,
        customer: Option<&str>,
    ) -> Result<Answered, OfferRefused> {
        let shared = &self.0;
        let metrics = &shared.services.metrics().webrtc;
        let answered = self.answer(source, sdp, customer).await;
        match &answered {
            Ok(_) => metrics.offer("answered"),
            Err(refused) => {
                info!(%source, %refused, "web call refused");
                metrics.offer(refused.label());
            }
        }
        answered
    }

    async fn answer(
        &self,
        source: IpAddr,
        sdp: String,
        customer: Option<&str>,
    ) -> Result<Answered, OfferRefused> {
        let shared = &self.0;
        let services = &shared.services;
        let config = services.config();
        self.admit(source)?;
        // From here the source holds a call place until the call ends.
        let place = SourcePlace {
            calls: self.clone(),
            source,
        };
        if services.0.active.load(std::sync::atomic::Ordering::Relaxed) >= config.sip.max_calls {
            return Err(OfferRefused::Busy);
        }
        if services.0.flows.get(&config.flows.entry).is_none() {
            return Err(OfferRefused::NoFlow);
        }
        let customer = customer.and_then(|token| {
            let key = config.webrtc.customer_key.as_deref()?;
            let verified = CustomerToken::verify(token, key, chrono::Utc::now().timestamp());
            if verified.is_none() {
                warn!("a web caller's customer claim is not validly signed; ignored");
            }
            verified
        });
        let (peer, answer) = shared.driver.answer(sdp).await.map_err(|e| match e {
            DriverError::Offer(OfferError::NoG711) => OfferRefused::NoG711,
            DriverError::Offer(error) => OfferRefused::BadOffer(error),
            _ => OfferRefused::Busy,
        })?;
        let (media, events) = media::spawn_webrtc(peer, MediaOptions::from(&config.media));
        let id = crate::crm::new_id();
        let (hang_up, hung_up) = oneshot::channel();
        lock(&shared.live).insert(id.clone(), hang_up);
        let leg = WebLeg::new(
            media,
            events,
            hung_up,
            Arc::clone(&services.0.prompts),
            services.metrics().webrtc.clone(),
        );
        tokio::spawn(self.clone().run(id.clone(), leg, customer, place));
        Ok(Answered { id, sdp: answer })
    }

    /// Counts an offer refused because its page's origin may not place calls.
    pub fn refused_origin(&self) {
        self.0.services.metrics().webrtc.offer("origin");
    }

    /// Hangs up the web call `id` for its page; false if there is no such call.
    pub fn hang_up(&self, id: &str) -> bool {
        match lock(&self.0.live).remove(id) {
            Some(hang_up) => hang_up.send(()).is_ok(),
            None => false,
        }
    }

    /// The SIP endpoint's limits for one more call from `source`.
    fn admit(&self, source: IpAddr) -> Result<(), OfferRefused> {
        let now = Instant::now();
        let mut limits = lock(&self.0.limits);
        limits.sources.handle_timeout(now);
        while limits.sources.poll_report().is_some() {}
        if limits.sources.check_message(now, source) != Verdict::Allow {
            return Err(OfferRefused::RateLimited);
        }
        let load = limits.load.read(now);
        if limits.admission.admit(now, load).is_err() {
            return Err(OfferRefused::Busy);
        }
        if !limits.sources.admit_call(now, source) {
            return Err(OfferRefused::RateLimited);
        }
        Ok(())
    }

    /// The call's task: the flow, the queue, an agent, as for a SIP caller
    /// (an async block, not an async fn, for the reason given at `Drive::run`).
    #[allow(clippy::manual_async_fn)]
    fn run(
        self,
        id: String,
        leg: WebLeg,
        customer: Option<String>,
        place: SourcePlace,
    ) -> impl Future<Output = ()> + Send {
        async move {
            let shared = &self.0;
            let services = shared.services.clone();
            let listed_id = format!("web-{id}");
            let identifying = {
                // The company's CRM when it identifies callers, as for a phone caller.
                let crm = services.0.crm.clone();
                async move {
                    let id = customer?;
                    match crm.find_customer(&id, LOOKUP_WAIT).await {
                        Ok(found) => found,
                        Err(error) => {
                            warn!(%error, "web caller's customer not read; going on as unknown");
                            None
                        }
                    }
                }
            };
            let started = Started {
                listed_id: listed_id.clone(),
                number: String::new(),
                channel: Channel::Web,
            };
            let endpoint = shared.endpoint.clone();
            account(
                services,
                started,
                identifying,
                |services, hotline_id, log, caller| async move {
                    let config = services.config();
                    let Some(flow) = services.0.flows.get(&config.flows.entry) else {
                        return Outcome::NoFlow;
                    };
                    let settings = core_settings(config);
                    let context = caller.context();
                    let core = super::core::CallCore::new(Instant::now(), settings, flow, context);
                    Drive {
                        services,
                        log,
                        caller,
                        id: CallId(listed_id),
                        hotline_id,
                        leg,
                        endpoint,
                        core,
                    }
                    .run()
                    .await
                },
            )
            .await;
            lock(&shared.live).remove(&id);
            drop(place);
        }
    }
}

/// A call place taken from a source's allowance, given back when dropped.
struct SourcePlace {
    calls: WebCalls,
    source: IpAddr,
}

impl Drop for SourcePlace {
    fn drop(&mut self) {
        lock(&self.calls.0.limits).sources.call_ended(self.source);
    }
}

/// A lock whose holder only reads or writes a table: a panic there leaves
/// nothing half done worth refusing calls for.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A site's signed claim of who its visitor is:
/// `<customer id>.<expiry, Unix seconds>.<HMAC-SHA256 hex>`, the MAC taken
/// with `[webrtc] customer_key` over `<customer id>.<expiry>`. The site
/// makes it on its server for a visitor it has signed in, and passes it to
/// the widget (`data-customer`); a short expiry (minutes) keeps a copied
/// token from being useful for long.
pub struct CustomerToken;

impl CustomerToken {
    /// A token for `customer` valid until `expires` (Unix seconds).
    pub fn sign(customer: &str, expires: i64, key: &str) -> String {
        let claim = format!("{customer}.{expires}");
        let mac = mac(key, &claim).finalize().into_bytes();
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        format!("{claim}.{hex}")
    }

    /// The customer id of a token validly signed with `key` and not expired at `now`.
    pub fn verify(token: &str, key: &str, now: i64) -> Option<String> {
        let (claim, signature) = token.rsplit_once('.')?;
        let (customer, expires) = claim.rsplit_once('.')?;
        let expires: i64 = expires.parse().ok()?;
        if customer.is_empty() || expires < now || signature.len() != 64 {
            return None;
        }
        let bytes: Option<Vec<u8>> = (0..32)
            .map(|i| u8::from_str_radix(signature.get(2 * i..2 * i + 2)?, 16).ok())
            .collect();
        // Compared in constant time by the MAC.
        mac(key, claim).verify_slice(&bytes?).ok()?;
        Some(customer.to_owned())
    }
}

fn mac(key: &str, claim: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes any key");
    mac.update(claim.as_bytes());
    mac
}

#[cfg(test)]
mod tests {
    use super::CustomerToken;

    #[test]
    fn a_signed_unexpired_token_names_its_customer_and_nothing_else_does() {
        let token = CustomerToken::sign("c-42", 1_000, "secret");
        assert_eq!(
            CustomerToken::verify(&token, "secret", 999),
            Some("c-42".into())
        );
        assert_eq!(CustomerToken::verify(&token, "secret", 1_001), None);
        assert_eq!(CustomerToken::verify(&token, "other key", 999), None);
        let forged = token.replacen("c-42", "c-43", 1);
        assert_eq!(CustomerToken::verify(&forged, "secret", 999), None);
        let extended = token.replacen(".1000.", ".9999.", 1);
        assert_eq!(CustomerToken::verify(&extended, "secret", 999), None);
        for garbage in ["", "c-42", "c-42.1000", "c-42.x.00", ".1000.ab", "é.1.é"] {
            assert_eq!(CustomerToken::verify(garbage, "secret", 0), None);
        }
    }
}

//! Calls hotline places, to peers it did not write: SIPp playing an agent's
//! phone that answers, is busy, or rings until cancelled, and a baresip
//! softphone that answers by itself and hangs up.
//!
//! hotline's SIP endpoint runs in this process, started from the library as
//! the server starts it, and is driven through the handle a queue would use.

mod support;

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

use hotline::server::endpoint::{
    self, CallHandler, CallSignal, Dialled, EndpointCommand, EndpointHandle, EndpointLimits,
};
use hotline::server::limits::LimitSettings;
use hotline::server::transport::{Listener, TcpLimits};
use hotline::sip::Header;
use hotline::sip::digest::ClientCredentials;
use hotline::sip::sdp::{Codec, LocalMedia, SdpSession};
use hotline::sip::transaction::{Remote, Transport};
use hotline::sip::ua::{OutgoingCall, UaConfig, UserAgent};
use hotline::sip::uri::{parse_name_addr, parse_uri};
use tokio::sync::mpsc;

use support::peers::{Baresip, SippRun, SippUas};
use support::phone::silence;

/// How long any one signal may take to arrive.
const SIGNAL_WAIT: Duration = Duration::from_secs(10);

/// How long a peer may take to finish its scenario after the call ended.
const PEER_WAIT: Duration = Duration::from_secs(10);

/// hotline's SIP endpoint on a free loopback port; it refuses incoming calls.
async fn endpoint() -> EndpointHandle {
    let listener = Listener::bind("127.0.0.1:0".parse().unwrap())
        .await
        .expect("bind SIP");
    let local = listener.local;
    let (inbound_tx, inbound_rx) = mpsc::channel(256);
    let tcp = TcpLimits::new(LimitSettings::default(), Arc::default());
    let outbound = listener.start(inbound_tx, tcp);
    let ua = UserAgent::new(UaConfig::new(local, "hotline-e2e".into()), rand::random());
    let limits = EndpointLimits::new(8, 1, LimitSettings::default(), Arc::default());
    let refuse: CallHandler = Arc::new(|call| {
        tokio::spawn(async move {
            let reject = EndpointCommand::Reject(call.call, 403, Vec::new());
            call.endpoint.send(reject).await;
        });
    });
    // No registrar: REGISTERs would wait unanswered, and none are sent here.
    let (registers, _) = hotline::server::registrar::channel();
    let metrics = Default::default();
    endpoint::spawn(ua, inbound_rx, outbound, limits, refuse, registers, metrics)
}

/// A call to agent `user` whose phone is at `phone`, with the caller's context.
fn to_agent(user: &str, phone: Remote, sdp: Vec<u8>) -> OutgoingCall {
    let header = |name: &str, value: &str| Header {
        name: name.into(),
        value: value.into(),
    };
    OutgoingCall {
        request_uri: parse_uri(&format!("sip:{user}@{}", phone.addr)).unwrap(),
        from: parse_name_addr("\"Olena Kovalenko\" <sip:+380441234567@127.0.0.1>").unwrap(),
        to: parse_name_addr(&format!("<sip:{user}@127.0.0.1>")).unwrap(),
        remote: phone,
        route: Vec::new(),
        sdp,
        headers: vec![
            header("X-Hotline-Customer", "Olena Kovalenko"),
            header("X-Hotline-Account", "100200300"),
            header("X-Hotline-Path", "main>agent"),
            header("X-Hotline-Tickets", "none"),
        ],
        auth: None,
    }
}

/// A call placed from a fresh endpoint to an agent's phone, with our side
/// of offer/answer and the RTP socket its offer names (held so that no one
/// else takes the port while the test runs).
struct Placed {
    endpoint: EndpointHandle,
    call: Dialled,
    session: SdpSession,
    _rtp: UdpSocket,
}

/// Dials agent `agent` at `phone` over UDP from a fresh endpoint.
async fn dial(phone: SocketAddr) -> Placed {
    let phone = Remote {
        addr: phone,
        transport: Transport::Udp,
    };
    dial_over(phone).await
}

/// Dials agent `agent` at `phone` from a fresh endpoint.
async fn dial_over(phone: Remote) -> Placed {
    dial_with(phone, None).await
}

/// Dials `phone` from a fresh endpoint, answering challenges with `auth`.
async fn dial_with(phone: Remote, auth: Option<ClientCredentials>) -> Placed {
    let endpoint = endpoint().await;
    let rtp = UdpSocket::bind("127.0.0.1:0").expect("RTP port");
    let local = LocalMedia {
        address: "127.0.0.1".parse().unwrap(),
        rtp_port: rtp.local_addr().unwrap().port(),
    };
    let mut session = SdpSession::new(local, &mut rand::rng());
    let call = endpoint
        .dial(OutgoingCall {
            auth,
            ..to_agent("agent", phone, session.offer())
        })
        .await
        .expect("dialled");
    Placed {
        endpoint,
        call,
        session,
        _rtp: rtp,
    }
}

impl Placed {
    /// The call's next signal; the test fails when none comes in time.
    async fn next(&mut self) -> CallSignal {
        tokio::time::timeout(SIGNAL_WAIT, self.call.signals.recv())
            .await
            .expect("a signal in time")
            .expect("the endpoint is running")
    }

    /// What the queue does when the ring time is up or the caller left.
    async fn hangup(&self) {
        let hangup = EndpointCommand::Hangup(self.call.call.clone());
        self.endpoint.send(hangup).await;
    }
}

fn assert_sipp(run: SippRun) {
    assert!(run.success, "SIPp failed:\n{}", run.output);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_agent_answers_gets_the_ack_and_our_hangup_sends_bye() {
    let phone = SippUas::start("agent_answers.xml");
    let mut placed = dial(phone.addr).await;
    let ringing = placed.next().await;
    assert!(
        matches!(ringing, CallSignal::Progress { status: 180, .. }),
        "{ringing:?}"
    );
    let CallSignal::Answered { sdp } = placed.next().await else {
        panic!("not answered")
    };
    let agreed = placed.session.accept_answer(&sdp).expect("a usable answer");
    assert_eq!(agreed.codec, Codec::Pcmu);
    assert_eq!(agreed.telephone_event_pt, Some(101));
    placed.hangup().await;
    let ended = placed.next().await;
    assert!(
        matches!(&ended, CallSignal::Ended { reason } if reason == "LocalBye"),
        "{ended:?}"
    );
    assert_sipp(phone.finish(PEER_WAIT));
}

/// Dials SIPp playing a trunk that challenges the INVITE, with `password`.
async fn dial_trunk(password: &str) -> (SippUas, Placed) {
    let trunk = SippUas::start("trunk_challenges.xml");
    let auth = ClientCredentials {
        username: "hotline".into(),
        password: password.into(),
        realm: Some("trunk.example".into()),
    };
    let remote = Remote {
        addr: trunk.addr,
        transport: Transport::Udp,
    };
    let placed = dial_with(remote, Some(auth)).await;
    (trunk, placed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trunk_that_challenges_the_invite_takes_the_call_with_our_credentials() {
    let (trunk, mut placed) = dial_trunk("trunk-secret").await;
    let CallSignal::Answered { .. } = placed.next().await else {
        panic!("the trunk did not take the call")
    };
    placed.hangup().await;
    let ended = placed.next().await;
    assert!(matches!(ended, CallSignal::Ended { .. }), "{ended:?}");
    assert_sipp(trunk.finish(PEER_WAIT));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trunk_that_refuses_our_credentials_fails_the_call_without_a_loop() {
    let (trunk, mut placed) = dial_trunk("wrong").await;
    let failed = placed.next().await;
    assert!(
        matches!(failed, CallSignal::Failed { status: 403 }),
        "{failed:?}"
    );
    assert_sipp(trunk.finish(PEER_WAIT));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_agent_busy_fails_the_call_with_486_and_gets_its_ack() {
    let phone = SippUas::start("agent_busy.xml");
    let mut placed = dial(phone.addr).await;
    let failed = placed.next().await;
    assert!(
        matches!(failed, CallSignal::Failed { status: 486 }),
        "{failed:?}"
    );
    assert_sipp(phone.finish(PEER_WAIT));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_agent_ringing_is_cancelled_by_our_hangup_and_fails_with_487() {
    let phone = SippUas::start("agent_rings_until_cancel.xml");
    let mut placed = dial(phone.addr).await;
    let ringing = placed.next().await;
    assert!(
        matches!(ringing, CallSignal::Progress { status: 180, .. }),
        "{ringing:?}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    placed.hangup().await;
    let failed = placed.next().await;
    assert!(
        matches!(failed, CallSignal::Failed { status: 487 }),
        "{failed:?}"
    );
    assert_sipp(phone.finish(PEER_WAIT));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baresip_answers_by_itself_and_its_hangup_ends_the_call() {
    let dir = tempfile::tempdir().expect("temp dir");
    let microphone = silence(dir.path(), 20);
    let mut phone = Baresip::start(
        &microphone,
        "<sip:agent@127.0.0.1>;regint=0;answermode=auto",
    );
    let mut placed = dial(phone.sip).await;
    let sdp = loop {
        match placed.next().await {
            CallSignal::Progress { .. } => continue,
            CallSignal::Answered { sdp } => break sdp,
            other => panic!("not answered: {other:?}\n{}", phone.history()),
        }
    };
    let agreed = placed.session.accept_answer(&sdp).expect("a usable answer");
    assert!(matches!(agreed.codec, Codec::Pcmu | Codec::Pcma));
    let established = phone.wait_event("CALL_ESTABLISHED", SIGNAL_WAIT);
    assert!(established.is_some(), "{}", phone.history());
    phone.command("hangup", "");
    let ended = placed.next().await;
    assert!(
        matches!(&ended, CallSignal::Ended { reason } if reason == "RemoteBye"),
        "{ended:?}"
    );
    let closed = phone.wait_event("CALL_CLOSED", PEER_WAIT);
    assert!(closed.is_some(), "{}", phone.history());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_refusing_the_tcp_connection_fails_the_call_with_503_at_once() {
    let nobody = support::free_tcp_port();
    let started = std::time::Instant::now();
    let mut placed = dial_over(Remote {
        addr: nobody,
        transport: Transport::Tcp,
    })
    .await;
    let failed = placed.next().await;
    assert!(
        matches!(failed, CallSignal::Failed { status: 503 }),
        "{failed:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "not after Timer B"
    );
}

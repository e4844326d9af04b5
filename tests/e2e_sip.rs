//! End-to-end SIP signalling against SIPp, a third-party SIP tester.

mod support;

use std::net::UdpSocket;
use std::time::Duration;

use support::peers::sipp;
use support::{Server, ServerOptions};

fn assert_sipp(run: support::peers::SippRun, server: &Server) {
    assert!(
        run.success,
        "SIPp failed:\n{}\n--- hotline log ---\n{}",
        run.output,
        server.log()
    );
}

#[test]
fn call_is_answered_and_ended_by_caller_bye_over_udp() {
    let server = Server::start();
    let run = sipp("uac", server.sip, &["-m", "1", "-d", "2000"]);
    assert_sipp(run, &server);
}

#[test]
fn call_is_answered_and_ended_by_caller_bye_over_tcp() {
    let server = Server::start();
    let run = sipp("uac", server.sip, &["-t", "t1", "-m", "1", "-d", "2000"]);
    assert_sipp(run, &server);
}

#[test]
fn lost_first_ack_gets_the_200_retransmitted_and_the_call_survives() {
    let server = Server::start();
    let run = sipp("lost_first_ack.xml", server.sip, &["-m", "1"]);
    let retransmissions = retransmissions_of_first_200(&run.output);
    assert_sipp(run, &server);
    assert!(
        retransmissions >= 1,
        "the 200 was not retransmitted while the ACK was missing"
    );
}

/// The Retrans column of the first `200 <---` line of SIPp's final screen.
fn retransmissions_of_first_200(screen: &str) -> u32 {
    screen
        .lines()
        .find(|line| line.trim_start().starts_with("200 <"))
        .and_then(|line| {
            let numbers: Vec<u32> = line
                .split_whitespace()
                .filter_map(|w| w.parse().ok())
                .collect();
            // Columns after the arrow: Messages, Retrans, Timeout, Unexpected.
            numbers.get(2).copied()
        })
        .unwrap_or(0)
}

#[test]
fn cancel_before_answer_gets_200_and_487() {
    let server = Server::start_with(ServerOptions {
        config: "[sip]\nanswer_delay_ms = 5000\n".into(),
        ..ServerOptions::default()
    });
    let run = sipp("cancel_before_answer.xml", server.sip, &["-m", "1"]);
    assert_sipp(run, &server);
}

#[test]
fn options_is_answered_200_with_allow() {
    let server = Server::start();
    let run = sipp("options.xml", server.sip, &["-m", "1"]);
    assert_sipp(run, &server);
}

#[test]
fn hundred_calls_at_twenty_per_second_all_succeed() {
    let server = Server::start();
    let run = sipp(
        "uac",
        server.sip,
        &["-m", "100", "-r", "20", "-l", "100", "-d", "1000"],
    );
    assert_sipp(run, &server);
}

#[test]
fn calls_beyond_the_limit_get_503_with_retry_after() {
    let server = Server::start_with(ServerOptions {
        config: "[sip]\nmax_calls = 1\nretry_after_seconds = 7\n".into(),
        ..ServerOptions::default()
    });
    // One call holds the only place for 4 s; the second is refused.
    let holder = std::thread::spawn({
        let sip = server.sip;
        move || sipp("uac", sip, &["-m", "1", "-d", "4000"])
    });
    let holding = support::peers::wait_for(Duration::from_secs(10), || {
        server.get_json("/status")["calls_active"] == 1
    });
    assert!(
        holding,
        "the first call never became active:\n{}",
        server.log()
    );
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let local = socket.local_addr().unwrap();
    let invite = format!(
        "INVITE sip:hotline@{sip} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-over-1\r\n\
         From: <sip:+380441234567@{local}>;tag=over1\r\nTo: <sip:hotline@{sip}>\r\n\
         Call-ID: over-limit-1@test\r\nCSeq: 1 INVITE\r\nContact: <sip:caller@{local}>\r\n\
         Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        sip = server.sip
    );
    socket.send_to(invite.as_bytes(), server.sip).unwrap();
    let final_response = receive_final(&socket);
    assert!(
        final_response.starts_with("SIP/2.0 503"),
        "{final_response}"
    );
    assert!(
        final_response.contains("Retry-After: 7"),
        "{final_response}"
    );
    assert_sipp(holder.join().unwrap(), &server);
}

#[test]
fn garbage_gets_400_where_possible_and_the_server_keeps_answering() {
    let server = Server::start();
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let local = socket.local_addr().unwrap();
    for garbage in [
        &b"\x00\xff\xfe garbage"[..],
        b"INVITE\r\n\r\n",
        b"SIP/2.0 999999 Nope\r\n\r\n",
        &[0x80u8; 1200][..],
    ] {
        socket.send_to(garbage, server.sip).unwrap();
    }
    // A request with all the headers needed for a response but a broken CSeq.
    let broken = format!(
        "OPTIONS sip:hotline@{sip} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-bad-1\r\n\
         From: <sip:a@{local}>;tag=1\r\nTo: <sip:hotline@{sip}>\r\nCall-ID: bad-1@test\r\n\
         CSeq: banana OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        sip = server.sip
    );
    socket.send_to(broken.as_bytes(), server.sip).unwrap();
    let answer = receive_final(&socket);
    assert!(answer.starts_with("SIP/2.0 400"), "{answer}");
    let run = sipp("options.xml", server.sip, &["-m", "1"]);
    assert_sipp(run, &server);
}

#[test]
fn a_header_line_without_a_colon_gets_400() {
    let server = Server::start();
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let local = socket.local_addr().unwrap();
    let request = format!(
        "OPTIONS sip:hotline@{sip} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-nocolon-1\r\n\
         From: <sip:a@{local}>;tag=1\r\nTo: <sip:hotline@{sip}>\r\nCall-ID: nocolon-1@test\r\n\
         CSeq: 3 OPTIONS\r\nThis line has no colon\r\nMax-Forwards: 70\r\n\
         Content-Length: 0\r\n\r\n",
        sip = server.sip
    );
    socket.send_to(request.as_bytes(), server.sip).unwrap();
    let answer = receive_final(&socket);
    assert!(answer.starts_with("SIP/2.0 400"), "{answer}");
    assert!(answer.contains("Call-ID: nocolon-1@test"), "{answer}");
    assert!(answer.contains("branch=z9hG4bK-nocolon-1"), "{answer}");
}

/// Reads responses until a final one arrives, and returns it.
fn receive_final(socket: &UdpSocket) -> String {
    let mut buffer = [0u8; 65535];
    loop {
        let (len, _) = socket
            .recv_from(&mut buffer)
            .expect("no response from hotline");
        let text = String::from_utf8_lossy(&buffer[..len]).into_owned();
        if !text.starts_with("SIP/2.0 1") {
            return text;
        }
    }
}

#[test]
fn calls_are_recorded_in_the_database_and_listed_for_admins() {
    let server = Server::start();
    let run = sipp("info_dtmf.xml", server.sip, &["-m", "1"]);
    assert_sipp(run, &server);
    // The call's end is written as the call task finishes, just after the BYE.
    let mut listed = serde_json::Value::Null;
    support::peers::wait_for(Duration::from_secs(5), || {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_hotline"))
            .args(["calls", "--db", &server.db_url(), "list", "--json"])
            .output()
            .expect("hotline calls list");
        listed = serde_json::from_slice(&output.stdout).unwrap_or_default();
        listed[0]["outcome"].is_string()
    });
    let call = &listed[0];
    assert_eq!(call["caller"], "+380441234567", "{listed}");
    assert_eq!(call["outcome"], "ended: RemoteBye");
    assert!(
        call["customer_id"].is_string(),
        "the demo customer was identified: {listed}"
    );
    let keys: Vec<&str> = call["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["detail"].as_str())
        .collect();
    assert_eq!(keys, ["4 sip_info", "2 sip_info", "7 sip_info"]);
}

#[test]
fn a_caller_whose_phone_goes_dead_in_the_menu_is_hung_up() {
    let server = Server::start_with(ServerOptions {
        media: "rtp_timeout_seconds = 3".into(),
        ..ServerOptions::default()
    });
    // A key the menu does not offer, then nothing: no RTP, no BYE.
    let run = sipp(
        "silent_caller.xml",
        server.sip,
        &["-m", "1", "-key", "digit", "9"],
    );
    assert_sipp(run, &server);
    let events = server.last_call_events();
    assert!(
        events.iter().any(|e| e == "media caller silent for 3 s"),
        "{events:?}"
    );
}

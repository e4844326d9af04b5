//! Callers: order by priority and arrival, abandoning, callbacks that keep the place,
//! announcements and the queue log.

use super::*;

const CONFIG: &str = r#"
    [[agents]]
    id = "anna"
    skills = { support = 1 }

    [[queues]]
    name = "support"
    strategy = "longest_idle"
    skills = ["support"]
    announce_every_seconds = 30
"#;

/// A rig with anna logged in but paused, so callers wait.
fn waiting_rig() -> Rig {
    let mut rig = Rig::new(CONFIG);
    rig.login(&["anna"]);
    rig.agent(
        "anna",
        AgentInput::Pause {
            reason: "meeting".into(),
        },
    );
    rig
}

/// Serves callers one by one with anna and returns them in the order served.
fn served_order(rig: &mut Rig, count: usize) -> Vec<u64> {
    let mut actions = rig.agent("anna", AgentInput::Unpause);
    let mut order = Vec::new();
    for _ in 0..count {
        let (offer, caller, _) = one_offer(&actions);
        order.push(caller);
        actions = rig.serve(offer, "anna");
    }
    order
}

#[test]
fn higher_priority_callers_are_served_first_then_by_arrival() {
    let mut rig = waiting_rig();
    rig.join_with(1, "support", 0, 0);
    rig.at(1.0);
    rig.join_with(2, "support", 5, 0);
    rig.at(2.0);
    rig.join_with(3, "support", 0, 0);
    rig.join_with(4, "support", 5, 0);
    assert_eq!(served_order(&mut rig, 4), [2, 4, 1, 3]);
}

#[test]
fn time_in_the_ivr_counts_toward_the_wait_and_the_order() {
    let mut rig = waiting_rig();
    rig.join_with(1, "support", 0, 0);
    rig.at(10.0);
    rig.join_with(2, "support", 0, 30);
    let waiting = rig.acd.waiting("support");
    assert_eq!(waiting[0].caller, CallerId(2), "arrived at -20 s in effect");
    assert_eq!(waiting[0].arrived, rig.base - Duration::from_secs(20));
    rig.at(40.0);
    assert_eq!(served_order(&mut rig, 2), [2, 1]);
    let waited: Vec<(u64, u64)> = rig
        .log
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Answered {
                caller, waited_ms, ..
            } => Some((caller.0, *waited_ms)),
            _ => None,
        })
        .collect();
    assert_eq!(waited, [(2, 60_000), (1, 40_000)]);
}

#[test]
fn hanging_up_while_ringing_cancels_the_offer() {
    let mut rig = Rig::new(CONFIG);
    rig.login(&["anna"]);
    let (offer, _, _) = one_offer(&rig.join(1, "support"));
    rig.join(2, "support");
    rig.at(3.0);
    let actions = rig.hangup(1);
    assert_eq!(cancels(&actions), [(offer, "anna".to_owned())]);
    assert_eq!(one_offer(&actions).1, 2, "anna is free for the next caller");
    assert!(rig.log.iter().any(|e| e.kind
        == EventKind::Abandoned {
            queue: "support".into(),
            caller: CallerId(1),
            position: 1,
            waited_ms: 3_000,
        }));
}

#[test]
fn a_callback_keeps_the_place_ahead_of_later_arrivals() {
    let mut rig = waiting_rig();
    for caller in 1..=3 {
        rig.join(caller, "support");
        rig.at(caller as f64);
    }
    let actions = rig.acd.handle_callback_request(rig.now, CallerId(2));
    assert_eq!(actions, Ok(()));
    let actions = rig.drain();
    assert!(actions.contains(&Action::RegisterCallback {
        caller: CallerId(2),
        queue: "support".into(),
        position: 2,
        waited: Duration::from_secs(2),
        limit: None,
    }));
    // The shell confirms and hangs up; that does not give the place away.
    rig.hangup(2);
    rig.join(4, "support");
    let waiting = rig.acd.waiting("support");
    let order: Vec<(u64, bool)> = waiting.iter().map(|w| (w.caller.0, w.callback)).collect();
    assert_eq!(order, [(1, false), (2, true), (3, false), (4, false)]);

    let mut actions = rig.agent("anna", AgentInput::Unpause);
    let (offer, caller, _) = one_offer(&actions);
    assert_eq!(caller, 1);
    actions = rig.serve(offer, "anna");
    let callback_offer = actions.iter().find_map(|a| match a {
        Action::Offer {
            offer,
            caller,
            callback: true,
            ..
        } => Some((*offer, caller.0)),
        _ => None,
    });
    let (offer, caller) = callback_offer.expect("the callback is offered next");
    assert_eq!(caller, 2);
    let actions = rig.report(offer, OfferResult::Answered);
    assert!(actions.contains(&Action::Connect {
        offer,
        caller: CallerId(2),
        agent: AgentId::from("anna"),
        callback: true,
    }));
}

#[test]
fn a_cancelled_callback_leaves_the_queue() {
    let mut rig = waiting_rig();
    rig.join(1, "support");
    rig.acd
        .handle_callback_request(rig.now, CallerId(1))
        .unwrap();
    rig.acd
        .handle_callback_cancelled(rig.now, CallerId(1))
        .unwrap();
    assert!(rig.acd.waiting("support").is_empty());
}

#[test]
fn callers_hear_their_position_every_announcement_period() {
    let mut rig = waiting_rig();
    let announced = |actions: &[Action]| -> Vec<(u64, usize)> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Announce {
                    caller, position, ..
                } => Some((caller.0, *position)),
                _ => None,
            })
            .collect()
    };
    assert_eq!(announced(&rig.join(1, "support")), [(1, 1)], "on joining");
    rig.at(10.0);
    assert_eq!(announced(&rig.join(2, "support")), [(2, 2)]);
    assert_eq!(announced(&rig.at(30.0)), [(1, 1)]);
    assert_eq!(announced(&rig.at(40.0)), [(2, 2)]);
    rig.hangup(1);
    assert_eq!(announced(&rig.at(70.0)), [(2, 1)], "moved up");
    let estimates = rig.log.iter().filter(|e| {
        matches!(
            e.kind,
            EventKind::Announced {
                estimated_wait_ms: Some(_),
                ..
            }
        )
    });
    assert_eq!(estimates.count(), 0, "no answers seen, so no estimate");
}

#[test]
fn a_caller_whose_agent_rings_hears_the_position_until_answered() {
    let mut rig = Rig::new(CONFIG);
    rig.login(&["anna"]);
    let actions = rig.join(1, "support");
    assert!(actions.iter().any(|a| matches!(a, Action::Offer { .. })));
    assert!(
        actions
            .iter()
            .any(|a| matches!(a, Action::Announce { position: 1, .. })),
        "{actions:?}"
    );
}

#[test]
fn events_serialize_with_time_queue_and_ids() {
    let mut rig = Rig::new(CONFIG);
    rig.login(&["anna"]);
    rig.at(2.5);
    rig.join_with(7, "support", 1, 4);
    let joined = rig
        .log
        .iter()
        .find(|e| matches!(e.kind, EventKind::CallerJoined { .. }))
        .unwrap();
    assert_eq!(
        serde_json::to_value(joined).unwrap(),
        serde_json::json!({
            "at_ms": 2500, "event": "caller_joined", "queue": "support", "caller": 7,
            "priority": 1, "waited_before_ms": 4000, "position": 1, "overflow_from": null,
        })
    );
    let paused = Event {
        at_ms: 1,
        kind: EventKind::AgentStateChanged {
            agent: AgentId::from("anna"),
            state: paused(NO_ANSWER),
        },
    };
    assert_eq!(
        serde_json::to_string(&paused).unwrap(),
        r#"{"at_ms":1,"event":"agent_state_changed","agent":"anna","state":{"paused":{"reason":"no answer"}}}"#
    );
}

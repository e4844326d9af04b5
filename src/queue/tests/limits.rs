//! Limits: max wait, a full queue and no agents, each with its configured action.

use super::*;

const CONFIG: &str = r#"
    [[agents]]
    id = "anna"
    skills = { support = 1 }
    [[agents]]
    id = "oleh"
    skills = { overflow = 1 }

    [[queues]]
    name = "support"
    strategy = "longest_idle"
    skills = ["support"]
    max_wait_seconds = 60
    max_length = 2
    on_max_wait = { queue = "overflow" }
    on_full = "callback"
    on_no_agents = "goodbye"

    [[queues]]
    name = "overflow"
    strategy = "longest_idle"
    skills = ["overflow"]
    max_wait_seconds = 100
    on_max_wait = "callback"
    on_no_agents = { queue = "support" }
"#;

/// Anna logged in and busy with caller 100, so support callers wait.
fn busy_rig() -> Rig {
    let mut rig = Rig::new(CONFIG);
    rig.login(&["anna"]);
    let (offer, _, _) = one_offer(&rig.join(100, "support"));
    rig.report(offer, OfferResult::Answered);
    rig
}

fn limits(rig: &Rig) -> Vec<(u64, Limit, LimitAction)> {
    rig.log
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::LimitReached {
                caller,
                limit,
                action,
                ..
            } => Some((caller.0, *limit, action.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn max_wait_moves_the_caller_to_the_overflow_queue() {
    let mut rig = busy_rig();
    rig.login(&["oleh"]);
    rig.agent("oleh", AgentInput::Pause { reason: "x".into() });
    rig.join_with(1, "support", 0, 20);
    assert_eq!(
        rig.acd.poll_timeout(),
        Some(rig.secs(40.0)),
        "IVR time counts"
    );
    let actions = rig.at(40.0);
    assert!(actions.contains(&Action::Overflow {
        caller: CallerId(1),
        from: "support".into(),
        to: "overflow".into(),
    }));
    assert_eq!(
        limits(&rig),
        [(1, Limit::MaxWait, LimitAction::Queue("overflow".into()))]
    );
    assert_eq!(rig.acd.waiting("overflow")[0].caller, CallerId(1));
    // The overflow queue's max wait counts from the move.
    assert_eq!(rig.acd.poll_timeout(), Some(rig.secs(140.0)));
    let (_, caller, agent) = one_offer(&rig.agent("oleh", AgentInput::Unpause));
    assert_eq!((caller, agent.as_str()), (1, "oleh"));
}

#[test]
fn max_wait_with_callback_keeps_the_place_and_stops_the_clock() {
    let mut rig = busy_rig();
    rig.login(&["oleh"]);
    rig.agent("oleh", AgentInput::Pause { reason: "x".into() });
    rig.join(1, "overflow");
    rig.at(50.0);
    rig.join(2, "overflow");
    let actions = rig.at(100.0);
    assert!(actions.iter().any(|a| matches!(
        a,
        Action::RegisterCallback {
            caller: CallerId(1),
            position: 1,
            limit: Some(Limit::MaxWait),
            ..
        }
    )));
    let waiting = rig.acd.waiting("overflow");
    assert_eq!(
        (waiting[0].caller, waiting[0].callback),
        (CallerId(1), true)
    );
    // Caller 2 reaches the limit at 150 s; the callback never does.
    assert_eq!(rig.acd.poll_timeout(), Some(rig.secs(150.0)));
    rig.at(1000.0);
    assert_eq!(limits(&rig).len(), 2);
}

#[test]
fn a_full_queue_gives_the_joiner_its_action_and_callbacks_do_not_count() {
    let mut rig = busy_rig();
    rig.join(1, "support");
    rig.join(2, "support");
    let actions = rig.join(3, "support");
    assert!(actions.iter().any(|a| matches!(
        a,
        Action::RegisterCallback {
            caller: CallerId(3),
            position: 3,
            limit: Some(Limit::QueueFull),
            ..
        }
    )));
    assert_eq!(limits(&rig), [(3, Limit::QueueFull, LimitAction::Callback)]);
    // Two on hold and one callback: still full for caller 4, who goes after caller 3.
    rig.join(4, "support");
    let order: Vec<u64> = rig
        .acd
        .waiting("support")
        .iter()
        .map(|w| w.caller.0)
        .collect();
    assert_eq!(order, [1, 2, 3, 4]);
    rig.hangup(1);
    rig.join(5, "support");
    assert_eq!(limits(&rig).len(), 2, "caller 5 found room");
}

#[test]
fn joining_with_no_agents_logged_in_gets_the_no_agents_action() {
    let mut rig = Rig::new(CONFIG);
    let actions = rig.join(1, "support");
    assert_eq!(
        actions,
        [Action::Goodbye {
            caller: CallerId(1),
            queue: "support".into(),
            limit: Limit::NoAgents,
        }]
    );
    assert!(rig.acd.waiting("support").is_empty());
}

#[test]
fn the_last_agent_logging_out_gives_callers_on_hold_the_no_agents_action() {
    let mut rig = Rig::new(CONFIG);
    rig.login(&["oleh"]);
    let (offer, _, _) = one_offer(&rig.join(100, "overflow"));
    rig.join(1, "overflow");
    rig.join(2, "overflow");
    let actions = rig.agent("oleh", AgentInput::Logout);
    assert_eq!(cancels(&actions), [(offer, "oleh".to_owned())]);
    // Overflow's action sends them to support, where nobody is logged in either: a goodbye,
    // as support sends them nowhere else.
    let goodbyes: Vec<u64> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Goodbye {
                caller,
                limit: Limit::NoAgents,
                ..
            } => Some(caller.0),
            _ => None,
        })
        .collect();
    assert_eq!(goodbyes, [100, 1, 2]);
    assert!(rig.acd.waiting("overflow").is_empty());
}

#[test]
fn an_overflow_chain_back_to_a_visited_queue_ends_in_a_goodbye() {
    let config = r#"
        [[agents]]
        id = "anna"
        skills = { a = 1, b = 1 }
        [[queues]]
        name = "a"
        strategy = "ring_all"
        skills = ["a"]
        on_no_agents = { queue = "b" }
        [[queues]]
        name = "b"
        strategy = "ring_all"
        skills = ["b"]
        on_no_agents = { queue = "a" }
    "#;
    let mut rig = Rig::new(config);
    let actions = rig.join(1, "a");
    assert!(matches!(
        actions.last(),
        Some(Action::Goodbye {
            caller: CallerId(1),
            ..
        })
    ));
    assert_eq!(
        limits(&rig),
        [
            (1, Limit::NoAgents, LimitAction::Queue("b".into())),
            (1, Limit::NoAgents, LimitAction::Goodbye),
        ]
    );
}

#[test]
fn a_callback_waits_for_agents_to_log_in() {
    let config = CONFIG.replace(
        r#"on_no_agents = "goodbye""#,
        r#"on_no_agents = "callback""#,
    );
    let mut rig = Rig::new(&config);
    rig.join(1, "support");
    assert!(rig.acd.waiting("support")[0].callback);
    assert_eq!(rig.acd.poll_timeout(), None, "no max wait for a callback");
    let (_, caller, _) = one_offer(&rig.login(&["anna"]));
    assert_eq!(caller, 1);
}

//! Agent states: wrap-up, no-answer pauses, moving on, pauses and logouts around calls.

use super::*;

const CONFIG: &str = r#"
    wrap_up_seconds = 10

    [[agents]]
    id = "anna"
    skills = { support = 1 }
    [[agents]]
    id = "boris"
    skills = { support = 1 }

    [[queues]]
    name = "support"
    strategy = "longest_idle"
    skills = ["support"]
    ring_timeout_seconds = 15
    retry_seconds = 5
"#;

#[test]
fn wrap_up_ends_with_the_agent_available_and_offered_again() {
    let mut rig = Rig::new(CONFIG);
    rig.login(&["anna"]);
    let (offer, _, _) = one_offer(&rig.join(1, "support"));
    rig.report(offer, OfferResult::Answered);
    rig.join(2, "support");
    rig.at(100.0);
    rig.end_call("anna");
    assert_eq!(rig.state("anna"), AgentState::WrapUp);
    assert_eq!(rig.acd.poll_timeout(), Some(rig.secs(110.0)));
    let anna = rig.acd.agent(&AgentId::from("anna")).unwrap();
    assert_eq!(anna.wrap_up_until(), Some(rig.secs(110.0)));
    assert!(offers(&rig.at(109.9)).is_empty());
    let (_, caller, agent) = one_offer(&rig.at(110.0));
    assert_eq!((caller, agent.as_str()), (2, "anna"));
    let anna = rig.acd.agent(&AgentId::from("anna")).unwrap();
    assert_eq!(anna.calls_taken(), 1);
    assert_eq!(anna.last_call_ended(), Some(rig.secs(100.0)));
}

#[test]
fn agent_who_does_not_answer_is_paused_and_the_next_is_offered() {
    let mut rig = Rig::new(CONFIG);
    rig.login(&["anna", "boris"]);
    let (offer, _, agent) = one_offer(&rig.join(1, "support"));
    assert_eq!(agent, "anna");
    assert_eq!(rig.acd.poll_timeout(), Some(rig.secs(15.0)));
    let actions = rig.at(15.0);
    assert_eq!(cancels(&actions), [(offer, "anna".to_owned())]);
    assert_eq!(rig.state("anna"), paused(NO_ANSWER));
    let (_, caller, agent) = one_offer(&actions);
    assert_eq!((caller, agent.as_str()), (1, "boris"));
    assert!(rig.log.iter().any(|e| matches!(
        &e.kind,
        EventKind::OfferEnded { outcome: OfferOutcome::RingTimeout, agent, .. } if agent.0 == "anna"
    )));
}

#[test]
fn no_answer_reported_by_the_shell_also_pauses_the_agent() {
    let mut rig = Rig::new(CONFIG);
    rig.login(&["anna", "boris"]);
    let (offer, _, _) = one_offer(&rig.join(1, "support"));
    rig.at(8.0);
    let actions = rig.report(offer, OfferResult::NoAnswer);
    assert!(
        cancels(&actions).is_empty(),
        "the shell knows the phone stopped ringing"
    );
    assert_eq!(rig.state("anna"), paused(NO_ANSWER));
    assert_eq!(one_offer(&actions).2, "boris");
}

#[test]
fn a_declining_agent_is_not_offered_the_same_caller_until_the_others_were_tried() {
    let mut rig = Rig::new(CONFIG);
    rig.login(&["anna", "boris"]);
    let (offer, _, agent) = one_offer(&rig.join(1, "support"));
    assert_eq!(agent, "anna");
    let (offer2, _, agent) = one_offer(&rig.report(offer, OfferResult::Declined));
    assert_eq!(agent, "boris", "anna is free but was tried");
    assert_eq!(rig.state("anna"), AgentState::Available);
    rig.at(2.0);
    // Both tried: a new round after the retry time, counted from the last failure.
    assert!(offers(&rig.report(offer2, OfferResult::Busy)).is_empty());
    assert_eq!(rig.acd.poll_timeout(), Some(rig.secs(7.0)));
    let (_, caller, agent) = one_offer(&rig.at(7.0));
    assert_eq!((caller, agent.as_str()), (1, "anna"));
}

#[test]
fn an_agent_declining_one_caller_is_offered_the_next() {
    let mut rig = Rig::new(CONFIG);
    rig.login(&["anna"]);
    let (offer, _, _) = one_offer(&rig.join(1, "support"));
    rig.join(2, "support");
    let (_, caller, agent) = one_offer(&rig.report(offer, OfferResult::Declined));
    assert_eq!((caller, agent.as_str()), (2, "anna"));
}

#[test]
fn pausing_a_ringing_agent_cancels_the_offer_and_offers_the_next() {
    let mut rig = Rig::new(CONFIG);
    rig.login(&["anna", "boris"]);
    let (offer, _, _) = one_offer(&rig.join(1, "support"));
    let actions = rig.agent(
        "anna",
        AgentInput::Pause {
            reason: "break".into(),
        },
    );
    assert_eq!(cancels(&actions), [(offer, "anna".to_owned())]);
    assert_eq!(rig.state("anna"), paused("break"));
    assert_eq!(one_offer(&actions).2, "boris");
}

#[test]
fn pause_asked_on_a_call_applies_when_the_call_ends() {
    let mut rig = Rig::new(CONFIG);
    rig.login(&["anna"]);
    let (offer, _, _) = one_offer(&rig.join(1, "support"));
    rig.report(offer, OfferResult::Answered);
    rig.agent(
        "anna",
        AgentInput::Pause {
            reason: "training".into(),
        },
    );
    assert_eq!(
        rig.state("anna"),
        AgentState::OnCall,
        "the caller is not cut off"
    );
    rig.end_call("anna");
    assert_eq!(rig.state("anna"), paused("training"), "no wrap-up first");
    rig.join(2, "support");
    assert!(offers(&rig.at(60.0)).is_empty());
    assert_eq!(one_offer(&rig.agent("anna", AgentInput::Unpause)).1, 2);
}

#[test]
fn logout_asked_on_a_call_applies_when_the_call_ends() {
    let mut rig = Rig::new(CONFIG);
    rig.login(&["anna"]);
    let (offer, _, _) = one_offer(&rig.join(1, "support"));
    rig.report(offer, OfferResult::Answered);
    rig.agent("anna", AgentInput::Logout);
    assert_eq!(rig.state("anna"), AgentState::OnCall);
    rig.end_call("anna");
    assert_eq!(rig.state("anna"), AgentState::LoggedOut);
}

#[test]
fn unpause_ends_wrap_up_early() {
    let mut rig = Rig::new(CONFIG);
    rig.login(&["anna"]);
    let (offer, _, _) = one_offer(&rig.join(1, "support"));
    rig.serve(offer, "anna");
    assert_eq!(rig.state("anna"), AgentState::WrapUp);
    rig.agent("anna", AgentInput::Unpause);
    assert_eq!(rig.state("anna"), AgentState::Available);
    assert_eq!(rig.acd.poll_timeout(), None, "the wrap-up deadline is gone");
}

#[test]
fn an_unregistered_agent_is_offered_nothing_until_registered_again() {
    let mut rig = Rig::new(CONFIG);
    rig.login(&["anna", "boris"]);
    let (offer, _, _) = one_offer(&rig.join(1, "support"));
    let actions = rig.agent("anna", AgentInput::Registered(false));
    assert_eq!(cancels(&actions), [(offer, "anna".to_owned())]);
    assert_eq!(one_offer(&actions).2, "boris");
    rig.join(2, "support");
    assert!(offers(&rig.at(4.0)).is_empty());
    assert_eq!(
        one_offer(&rig.agent("anna", AgentInput::Registered(true))).1,
        2
    );
}

#[test]
fn pausing_a_logged_out_agent_is_refused() {
    let mut rig = Rig::new(CONFIG);
    let refused = rig.acd.handle_agent(
        rig.now,
        &AgentId::from("anna"),
        AgentInput::Pause { reason: "x".into() },
    );
    assert_eq!(refused, Err(AcdError::NotLoggedIn(AgentId::from("anna"))));
    let unknown = rig
        .acd
        .handle_agent(rig.now, &AgentId::from("zoe"), AgentInput::Login);
    assert_eq!(unknown, Err(AcdError::UnknownAgent(AgentId::from("zoe"))));
}

#[test]
fn agent_state_changes_are_logged() {
    let mut rig = Rig::new(CONFIG);
    rig.login(&["anna"]);
    let (offer, _, _) = one_offer(&rig.join(1, "support"));
    rig.serve(offer, "anna");
    let states: Vec<AgentState> = rig
        .log
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::AgentStateChanged { state, .. } => Some(state.clone()),
            _ => None,
        })
        .collect();
    use AgentState::*;
    assert_eq!(states, [Available, Ringing, OnCall, WrapUp]);
}

#[test]
fn only_logged_in_free_agents_count_as_available_for_a_queue() {
    let mut rig = Rig::new(CONFIG);
    assert_eq!(rig.acd.available_agents("support"), 0);
    rig.login(&["anna", "boris"]);
    assert_eq!(rig.acd.available_agents("support"), 2);
    let (offer, _, agent) = one_offer(&rig.join(1, "support"));
    assert_eq!(rig.acd.available_agents("support"), 1);
    rig.report(offer, OfferResult::Answered);
    rig.agent(
        &other(&agent),
        AgentInput::Pause {
            reason: "lunch".into(),
        },
    );
    assert_eq!(rig.acd.available_agents("support"), 0);
    assert_eq!(rig.acd.available_agents("sales"), 0);
}

fn other(agent: &str) -> String {
    if agent == "anna" { "boris" } else { "anna" }.to_owned()
}

//! Every strategy, and escalation by time.

use super::*;

fn rig(strategy: &str, extra: &str) -> Rig {
    Rig::new(&format!(
        r#"
        [[agents]]
        id = "anna"
        skills = {{ support = 1 }}
        [[agents]]
        id = "boris"
        skills = {{ support = 1, uk = 1 }}
        [[agents]]
        id = "clara"
        skills = {{ support = 2 }}
        [[agents]]
        id = "dmytro"
        skills = {{ billing = 1 }}

        [[queues]]
        name = "support"
        strategy = "{strategy}"
        skills = ["support"]
        {extra}
        "#
    ))
}

#[test]
fn longest_idle_offers_the_agent_whose_last_call_ended_longest_ago() {
    let mut rig = rig("longest_idle", "");
    rig.login(&["clara"]);
    rig.at(1.0);
    rig.login(&["anna"]);
    rig.at(2.0);
    rig.login(&["boris"]);
    let (offer, _, agent) = one_offer(&rig.join(1, "support"));
    assert_eq!(agent, "clara", "logged in first, idle longest");
    rig.at(10.0);
    rig.serve(offer, "clara");
    let (offer, _, agent) = one_offer(&rig.join(2, "support"));
    assert_eq!(agent, "anna", "clara's call just ended");
    rig.serve(offer, "anna");
    let (_, _, agent) = one_offer(&rig.join(3, "support"));
    assert_eq!(agent, "boris");
}

#[test]
fn round_robin_continues_after_the_agent_offered_last() {
    let mut rig = rig("round_robin", "");
    rig.login(&["anna", "boris", "clara"]);
    let mut order = Vec::new();
    for caller in 1..=4 {
        let (offer, _, agent) = one_offer(&rig.join(caller, "support"));
        rig.serve(offer, &agent);
        order.push(agent);
    }
    assert_eq!(order, ["anna", "boris", "clara", "anna"]);
    // With boris paused, the round goes on from where it stopped and skips him.
    rig.agent(
        "boris",
        AgentInput::Pause {
            reason: "lunch".into(),
        },
    );
    let (_, _, agent) = one_offer(&rig.join(5, "support"));
    assert_eq!(agent, "clara");
}

#[test]
fn fewest_calls_offers_the_agent_who_took_the_fewest_calls() {
    let mut rig = rig("fewest_calls", "");
    rig.login(&["anna"]);
    for caller in 1..=2 {
        let (offer, _, _) = one_offer(&rig.join(caller, "support"));
        rig.serve(offer, "anna");
    }
    rig.at(20.0);
    rig.login(&["boris"]);
    rig.at(30.0);
    let (offer, _, agent) = one_offer(&rig.join(3, "support"));
    assert_eq!(agent, "boris");
    rig.report(offer, OfferResult::Answered);
    rig.at(50.0);
    rig.end_call("boris");
    rig.at(100.0);
    rig.login(&["clara"]);
    rig.at(200.0);
    let (_, _, agent) = one_offer(&rig.join(4, "support"));
    assert_eq!(agent, "clara", "no calls yet, though anna is idle longer");
    let (_, _, agent) = one_offer(&rig.join(5, "support"));
    assert_eq!(agent, "boris", "one call against anna's two");
}

#[test]
fn ring_all_rings_every_free_agent_and_the_first_to_answer_wins() {
    let mut rig = rig("ring_all", "");
    rig.login(&["anna", "boris", "clara", "dmytro"]);
    rig.agent(
        "boris",
        AgentInput::Pause {
            reason: "break".into(),
        },
    );
    let offered = offers(&rig.join(1, "support"));
    let agents: Vec<&str> = offered.iter().map(|(_, _, a)| a.as_str()).collect();
    assert_eq!(
        agents,
        ["anna", "clara"],
        "not the paused one, not the one without the skill"
    );
    let (anna_offer, clara_offer) = (offered[0].0, offered[1].0);

    let actions = rig.report(clara_offer, OfferResult::Answered);
    assert!(actions.contains(&Action::Connect {
        offer: clara_offer,
        caller: CallerId(1),
        agent: AgentId::from("clara"),
        callback: false,
    }));
    assert_eq!(cancels(&actions), [(anna_offer, "anna".to_owned())]);
    assert_eq!(rig.state("clara"), AgentState::OnCall);
    assert_eq!(rig.state("anna"), AgentState::Available);
    // Anna's answer raced the cancel; the shell hangs her leg up on the CancelOffer.
    let late = rig
        .acd
        .handle_offer_result(rig.now, anna_offer, OfferResult::Answered);
    assert_eq!(late, Err(AcdError::UnknownOffer(anna_offer)));
}

#[test]
fn ring_all_adds_agents_who_become_free_while_ringing() {
    let mut rig = rig("ring_all", "");
    rig.login(&["anna"]);
    assert_eq!(offers(&rig.join(1, "support")).len(), 1);
    let (_, caller, agent) = one_offer(&rig.login(&["boris"]));
    assert_eq!((caller, agent.as_str()), (1, "boris"));
}

#[test]
fn skill_level_offers_the_lowest_level_first() {
    let mut rig = rig("skill_level", "");
    rig.login(&["clara"]);
    rig.at(5.0);
    rig.login(&["anna", "boris"]);
    let agents: Vec<String> = (1..=3)
        .map(|caller| one_offer(&rig.join(caller, "support")).2)
        .collect();
    assert_eq!(
        agents,
        ["anna", "boris", "clara"],
        "clara is idle longest but second line"
    );
}

#[test]
fn escalation_brings_second_line_in_after_its_step() {
    let escalation = r#"escalation = [
            { after_seconds = 0, max_level = 1 },
            { after_seconds = 30, max_level = 2 },
        ]"#;
    let mut rig = rig("skill_level", escalation);
    rig.login(&["anna", "clara"]);
    let (offer, _, agent) = one_offer(&rig.join(1, "support"));
    assert_eq!(agent, "anna");
    rig.report(offer, OfferResult::Answered);
    // Anna is on a call; clara is free but only for callers who waited 30 s.
    assert!(offers(&rig.join(2, "support")).is_empty());
    assert_eq!(rig.acd.poll_timeout(), Some(rig.secs(30.0)));
    assert!(offers(&rig.at(29.9)).is_empty());
    let (_, caller, agent) = one_offer(&rig.at(30.0));
    assert_eq!((caller, agent.as_str()), (2, "clara"));
}

#[test]
fn escalation_counts_the_time_spent_in_the_ivr() {
    let escalation = r#"escalation = [
            { after_seconds = 0, max_level = 1 },
            { after_seconds = 30, max_level = 2 },
        ]"#;
    let mut rig = rig("longest_idle", escalation);
    rig.login(&["clara"]);
    assert!(offers(&rig.join_with(1, "support", 0, 20)).is_empty());
    let (_, _, agent) = one_offer(&rig.at(10.0));
    assert_eq!(agent, "clara");
}

#[test]
fn agents_without_the_queue_skill_are_never_offered() {
    let mut rig = rig("ring_all", "");
    rig.login(&["dmytro", "anna"]);
    let (offer, _, _) = one_offer(&rig.join(1, "support"));
    rig.report(offer, OfferResult::Answered);
    assert!(offers(&rig.join(2, "support")).is_empty());
    assert_eq!(rig.state("dmytro"), AgentState::Available);
}

#[test]
fn a_caller_needing_a_skill_of_their_own_is_offered_only_agents_who_have_it() {
    let mut rig = rig("longest_idle", "");
    rig.login(&["anna", "boris"]);
    let join = |caller, skills: &[&str]| Join {
        caller: CallerId(caller),
        queue: "support".into(),
        priority: 0,
        waited_before: Duration::ZERO,
        skills: skills.iter().map(|s| s.to_string()).collect(),
    };
    rig.acd.handle_join(rig.now, join(1, &["uk"])).unwrap();
    assert_eq!(
        one_offer(&rig.drain()).2,
        "boris",
        "anna is idle longer but has no uk"
    );
    rig.acd.handle_join(rig.now, join(2, &["en"])).unwrap();
    assert!(rig.drain().contains(&Action::Goodbye {
        caller: CallerId(2),
        queue: "support".into(),
        limit: Limit::NoAgents,
    }));
}

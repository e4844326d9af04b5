//! Whole calls through the call core on a virtual clock: what the caller
//! hears, what the queue and the CRM are asked, when each leg is hung up.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::flow::{Catalog, PromptCatalog};

const FLOW: &str = r##"id: t
default_language: en
languages: [en]
start: main
menu_defaults:
  timeout: 5
  no_input: { prompt: p/no_input, tries: 3, then: bye }
  invalid: { prompt: p/invalid, tries: 2, then: bye }
nodes:
  main:
    menu:
      greeting: p/greeting
      items:
        - { key: "1", label: l/repair, goto: repair }
        - { key: "2", label: l/agent, goto: agent }
        - { key: "3", label: l/desk, goto: desk }
  repair:
    ticket: { kind: line_repair, fields: { phone: caller }, next: done, on_error: bye }
  done:
    say: { parts: [ { prompt: p/ticket_is }, { digits: ticket } ], next: bye }
  agent:
    queue: { name: support }
  desk:
    transfer: { uri: "sip:desk@desk.test" }
  bye:
    hangup: { prompt: p/bye }
"##;

struct Prompts;

impl PromptCatalog for Prompts {
    fn exists(&self, _language: &str, _id: &str) -> bool {
        true
    }
}

fn flow() -> Arc<flow::Flow> {
    let catalog = Catalog {
        lookups: Default::default(),
        ticket_types: [("line_repair".to_owned(), ["phone".to_owned()].into())].into(),
        queues: ["support".to_owned()].into(),
    };
    let (flow, _) = crate::flow::compile(FLOW, Path::new("t.yaml"), &catalog, &Prompts).unwrap();
    Arc::new(flow)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

const MAX: Duration = Duration::from_secs(3600);

/// A call and its virtual clock.
struct Sim {
    core: CallCore,
    now: Instant,
    answered_at: Instant,
}

impl Sim {
    /// A call that rang for 200 ms and was answered: the greeting plays.
    fn answered() -> Sim {
        let now = Instant::now();
        let settings = Settings {
            answer_delay: ms(200),
            max_duration: MAX,
            callback_key: Some('1'),
            music: "queue/music".into(),
            default_language: "en".into(),
        };
        let context = CallContext {
            caller: "+380441234567".into(),
            customer: None,
            language: None,
            now_utc: chrono::Utc::now(),
            split_roll: 0,
        };
        let mut sim = Sim {
            core: CallCore::new(now, settings, flow(), context),
            now,
            answered_at: now + ms(200),
        };
        assert_eq!(
            sim.commands(),
            [Command::Leg(LegId::Caller, LegCommand::Ring)]
        );
        assert_eq!(sim.core.poll_timeout(), Some(now + ms(200)));
        sim.advance(ms(200));
        assert_eq!(
            sim.commands(),
            [Command::Leg(LegId::Caller, LegCommand::Answer)]
        );
        sim.caller(LegSignal::Answered);
        let commands = sim.commands();
        assert!(
            matches!(commands[0], Command::FlowStarted { .. }),
            "{commands:?}"
        );
        assert_eq!(played(&commands), vec!["p/greeting"; 1]);
        sim
    }

    /// Moves the clock by `by`, firing the timer when it is due.
    fn advance(&mut self, by: Duration) {
        self.now += by;
        if self.core.poll_timeout().is_some_and(|at| at <= self.now) {
            self.core.handle_timeout(self.now);
        }
    }

    fn caller(&mut self, signal: LegSignal) {
        self.core.handle_leg(self.now, LegId::Caller, signal);
    }

    fn far(&mut self, signal: LegSignal) {
        self.core.handle_leg(self.now, LegId::Far, signal);
    }

    fn key(&mut self, digit: char) {
        let at = self.now;
        self.caller(LegSignal::Digit(DigitEvent {
            digit,
            at,
            source: DigitSource::Rfc4733,
        }));
    }

    fn commands(&mut self) -> Vec<Command> {
        std::iter::from_fn(|| self.core.poll_command()).collect()
    }

    /// Presses `digit` in the main menu after the greeting.
    fn choose(&mut self, digit: char) -> Vec<Command> {
        self.advance(ms(1000));
        self.caller(LegSignal::PlaybackFinished { id: 1 });
        self.key(digit);
        self.commands()
    }

    fn hang_up(&mut self) -> Vec<Command> {
        self.caller(LegSignal::Ended {
            reason: "BYE".into(),
        });
        self.commands()
    }
}

/// The prompt ids of every Play to the caller, first prompt of each.
fn played(commands: &[Command]) -> Vec<&str> {
    commands
        .iter()
        .filter_map(|c| match c {
            Command::Leg(LegId::Caller, LegCommand::Play { prompts, .. }) => match &prompts[0] {
                Prompt::File { id, .. } => Some(id.as_str()),
                Prompt::Say { .. } => Some("say"),
            },
            _ => None,
        })
        .collect()
}

fn play_id(commands: &[Command]) -> u64 {
    commands
        .iter()
        .find_map(|c| match c {
            Command::Leg(LegId::Caller, LegCommand::Play { id, .. }) => Some(*id),
            _ => None,
        })
        .expect("a playback")
}

fn has(commands: &[Command], wanted: &Command) -> bool {
    commands.contains(wanted)
}

const CALLER_HANGUP: Command = Command::Leg(LegId::Caller, LegCommand::HangUp);
const FAR_HANGUP: Command = Command::Leg(LegId::Far, LegCommand::HangUp);

/// Into the queue by key 2: music plays.
fn waiting() -> Sim {
    let mut sim = Sim::answered();
    let commands = sim.choose('2');
    assert!(
        commands
            .iter()
            .any(|c| matches!(c, Command::JoinQueue { queue, .. } if queue == "support"))
    );
    assert_eq!(played(&commands), ["queue/music"]);
    assert!(matches!(sim.core.phase(), Phase::Waiting { .. }));
    sim
}

/// Bridged to agent `ann` from the queue.
fn bridged() -> Sim {
    let mut sim = waiting();
    sim.advance(ms(3000));
    sim.core.handle_queue(
        sim.now,
        QueueNotice::Connect {
            agent: "ann".into(),
        },
    );
    let commands = sim.commands();
    assert!(has(&commands, &Command::Bridge), "{commands:?}");
    assert!(has(
        &commands,
        &Command::Leg(LegId::Caller, LegCommand::StopPlayback)
    ));
    sim
}

/// Ringing the transfer target by key 3: music plays meanwhile.
fn transferring() -> Sim {
    let mut sim = Sim::answered();
    let commands = sim.choose('3');
    assert!(
        has(
            &commands,
            &Command::Dial {
                uri: "sip:desk@desk.test".into()
            }
        ),
        "{commands:?}"
    );
    assert_eq!(played(&commands), ["queue/music"]);
    sim
}

#[test]
fn menu_to_ticket_tells_the_number_then_hangs_up() {
    let mut sim = Sim::answered();
    let commands = sim.choose('1');
    let (limit, phone) = commands
        .iter()
        .find_map(|c| match c {
            Command::RegisterTicket {
                kind, phone, limit, ..
            } if kind == "line_repair" => Some((*limit, phone.clone())),
            _ => None,
        })
        .expect("a ticket asked for");
    assert_eq!(phone, "+380441234567");
    assert!(limit <= CRM_LIMIT);
    assert!(
        played(&commands).is_empty(),
        "nothing plays while the ticket is registered"
    );
    sim.advance(ms(40));
    sim.core
        .handle_ticket_result(sim.now, "line_repair", Ok(TicketNumber("1042".into())));
    let commands = sim.commands();
    assert!(has(
        &commands,
        &Command::Event {
            kind: "ticket",
            detail: "line_repair 1042".into()
        }
    ));
    assert_eq!(played(&commands), ["p/ticket_is"]);
    let id = play_id(&commands);
    sim.advance(ms(2000));
    sim.caller(LegSignal::PlaybackFinished { id });
    let commands = sim.commands();
    assert_eq!(played(&commands), ["p/bye"]);
    let id = play_id(&commands);
    sim.caller(LegSignal::PlaybackFinished { id });
    assert_eq!(sim.commands(), [CALLER_HANGUP]);
    assert_eq!(sim.hang_up(), []);
    assert!(sim.core.is_ended());
    let call = sim.core.flow_call().unwrap();
    assert_eq!(call.outcome(), Some(flow::Outcome::TicketRegistered));
}

#[test]
fn a_key_during_the_greeting_stops_it_and_chooses_at_once() {
    let mut sim = Sim::answered();
    sim.advance(ms(300));
    sim.key('2');
    let commands = sim.commands();
    assert!(
        has(
            &commands,
            &Command::Leg(LegId::Caller, LegCommand::StopPlayback)
        ),
        "{commands:?}"
    );
    assert!(
        commands
            .iter()
            .any(|c| matches!(c, Command::JoinQueue { .. })),
        "{commands:?}"
    );
}

#[test]
fn keys_typed_during_the_ticket_confirmation_reach_the_next_menu() {
    // The ticket's number is said without barge-in; a key pressed meanwhile
    // waits for the next menu (here: the goodbye, which takes none, so the
    // key is recorded and the call goes on).
    let mut sim = Sim::answered();
    sim.choose('1');
    sim.core
        .handle_ticket_result(sim.now, "line_repair", Ok(TicketNumber("7".into())));
    let id = play_id(&sim.commands());
    sim.key('9');
    let commands = sim.commands();
    assert!(
        commands
            .iter()
            .any(|c| matches!(c, Command::Digit { digit: '9', .. })),
        "{commands:?}"
    );
    assert!(
        !has(
            &commands,
            &Command::Leg(LegId::Caller, LegCommand::StopPlayback)
        ),
        "no barge-in"
    );
    sim.caller(LegSignal::PlaybackFinished { id });
    assert_eq!(played(&sim.commands()), ["p/bye"]);
}

#[test]
fn a_waiting_caller_hears_the_position_then_music_until_an_agent_answers() {
    let mut sim = waiting();
    sim.advance(ms(20_000));
    sim.core.handle_queue(
        sim.now,
        QueueNotice::Announce {
            position: 2,
            estimated_wait: Some(ms(90_000)),
        },
    );
    let commands = sim.commands();
    assert_eq!(played(&commands), ["queue/position"]);
    sim.caller(LegSignal::PlaybackFinished { id: ANNOUNCEMENT });
    assert_eq!(
        played(&sim.commands()),
        ["queue/music"],
        "the music comes back"
    );
    sim.core.handle_queue(
        sim.now,
        QueueNotice::Connect {
            agent: "ann".into(),
        },
    );
    let commands = sim.commands();
    assert!(has(&commands, &Command::Bridge));
    assert_eq!(
        sim.core.phase(),
        &Phase::Bridged {
            agent: Some("ann".into())
        }
    );
    sim.advance(ms(60_000));
    let commands = sim.hang_up();
    assert!(has(&commands, &FAR_HANGUP), "{commands:?}");
    assert!(
        has(
            &commands,
            &Command::AgentCallEnded {
                agent: "ann".into()
            }
        ),
        "the queue starts the wrap-up"
    );
    assert!(sim.core.is_ended());
}

#[test]
fn keys_cross_the_bridge_both_ways_but_in_band_ones_travel_in_the_audio() {
    let mut sim = bridged();
    sim.key('5');
    let commands = sim.commands();
    assert!(has(
        &commands,
        &Command::Leg(LegId::Far, LegCommand::SendDigit('5'))
    ));
    assert!(
        commands
            .iter()
            .any(|c| matches!(c, Command::Digit { digit: '5', .. }))
    );
    let at = sim.now;
    sim.caller(LegSignal::Digit(DigitEvent {
        digit: '6',
        at,
        source: DigitSource::InBand,
    }));
    assert!(
        !sim.commands()
            .iter()
            .any(|c| matches!(c, Command::Leg(LegId::Far, LegCommand::SendDigit(_))))
    );
    sim.far(LegSignal::Digit(DigitEvent {
        digit: '#',
        at,
        source: DigitSource::SipInfo,
    }));
    assert_eq!(
        sim.commands(),
        [Command::Leg(LegId::Caller, LegCommand::SendDigit('#'))]
    );
}

#[test]
fn the_agent_hanging_up_hangs_up_the_caller() {
    let mut sim = bridged();
    sim.far(LegSignal::Ended {
        reason: "BYE".into(),
    });
    assert_eq!(sim.commands(), [CALLER_HANGUP]);
    let commands = sim.hang_up();
    assert_eq!(
        commands,
        [Command::AgentCallEnded {
            agent: "ann".into()
        }]
    );
}

#[test]
fn a_transfer_with_early_media_bridges_at_once_then_keeps_the_bridge_on_answer() {
    let mut sim = transferring();
    sim.advance(ms(500));
    sim.far(LegSignal::Ringing { early_media: false });
    assert_eq!(sim.commands(), []);
    sim.far(LegSignal::Ringing { early_media: true });
    assert_eq!(
        sim.commands(),
        [Command::Bridge],
        "the caller hears the target's ringback"
    );
    sim.far(LegSignal::Ringing { early_media: true });
    assert_eq!(sim.commands(), [], "bridged once");
    sim.advance(ms(3000));
    sim.far(LegSignal::Answered);
    assert!(has(&sim.commands(), &Command::Bridge));
    assert_eq!(sim.core.phase(), &Phase::Bridged { agent: None });
    let commands = sim.hang_up();
    assert_eq!(commands, [FAR_HANGUP]);
}

#[test]
fn a_transfer_target_that_rings_out_is_cancelled_and_the_caller_hears_goodbye() {
    let mut sim = transferring();
    sim.advance(ms(29_999));
    assert_eq!(sim.commands(), []);
    sim.advance(ms(1));
    assert_eq!(sim.commands(), [FAR_HANGUP], "CANCEL after 30 s");
    sim.far(LegSignal::Refused { status: 487 });
    let commands = sim.commands();
    assert_eq!(played(&commands), ["queue/all_busy"]);
    sim.caller(LegSignal::PlaybackFinished { id: FAREWELL });
    assert_eq!(sim.commands(), [CALLER_HANGUP]);
}

#[test]
fn the_callback_key_keeps_the_place_and_the_caller_hears_the_ticket_number() {
    let mut sim = waiting();
    sim.advance(ms(5000));
    sim.key('1');
    let commands = sim.commands();
    assert!(has(&commands, &Command::RequestCallback), "{commands:?}");
    // The queue keeps the place as a callback and asks for its ticket.
    sim.core
        .handle_queue(sim.now, QueueNotice::RegisterCallback);
    assert_eq!(sim.commands(), [Command::RegisterCallback]);
    sim.advance(ms(30));
    sim.core
        .handle_callback_registered(sim.now, Some("77".into()));
    let commands = sim.commands();
    assert!(has(
        &commands,
        &Command::Event {
            kind: "ticket",
            detail: "callback 77".into()
        }
    ));
    assert_eq!(played(&commands), ["queue/callback_registered"]);
    sim.caller(LegSignal::PlaybackFinished { id: FAREWELL });
    assert_eq!(sim.commands(), [CALLER_HANGUP]);
    let commands = sim.hang_up();
    assert_eq!(
        commands,
        [],
        "the place is not given back: it is the callback's"
    );
}

#[test]
fn a_farewell_that_never_ends_is_cut_after_its_limit() {
    let mut sim = waiting();
    sim.core.handle_queue(sim.now, QueueNotice::Goodbye);
    assert_eq!(played(&sim.commands()), ["queue/all_busy"]);
    sim.advance(FAREWELL_LIMIT);
    assert_eq!(sim.commands(), [CALLER_HANGUP]);
}

#[test]
fn the_caller_cancelling_while_ringing_ends_the_call_unanswered() {
    let mut sim = Sim::answered();
    // A fresh call, cancelled during the answer delay.
    let settings = Settings {
        answer_delay: ms(500),
        max_duration: MAX,
        callback_key: None,
        music: "m".into(),
        default_language: "en".into(),
    };
    let context = CallContext {
        caller: String::new(),
        customer: None,
        language: None,
        now_utc: chrono::Utc::now(),
        split_roll: 0,
    };
    sim.core = CallCore::new(sim.now, settings, flow(), context);
    sim.commands();
    sim.advance(ms(100));
    sim.caller(LegSignal::Cancelled);
    assert_eq!(sim.commands(), []);
    assert_eq!(sim.core.end(), Some(&End::Cancelled));
    assert_eq!(sim.core.poll_timeout(), None);
}

/// Each phase a caller can be in once answered, with the far leg's state.
fn every_phase() -> Vec<(&'static str, Sim, bool)> {
    let mut farewell = waiting();
    // Late in the call, so the farewell still plays when the limit comes.
    farewell.now = farewell.answered_at + MAX - ms(10_000);
    farewell
        .core
        .handle_queue(farewell.now, QueueNotice::Goodbye);
    farewell.commands();
    vec![
        ("flow", Sim::answered(), false),
        ("queue", waiting(), false),
        ("bridged", bridged(), true),
        ("transfer", transferring(), true),
        ("farewell", farewell, false),
    ]
}

#[test]
fn an_rtp_timeout_hangs_up_the_caller_in_every_phase() {
    for (phase, mut sim, far) in every_phase() {
        sim.advance(ms(1));
        sim.caller(LegSignal::MediaLost {
            silent_for: Duration::from_secs(30),
        });
        let commands = sim.commands();
        assert!(
            has(
                &commands,
                &Command::Event {
                    kind: "media",
                    detail: "caller silent for 30 s".into()
                }
            ),
            "{phase}"
        );
        assert!(has(&commands, &CALLER_HANGUP), "{phase}: {commands:?}");
        let commands = sim.hang_up();
        assert_eq!(
            has(&commands, &FAR_HANGUP),
            far,
            "{phase}: the far leg goes too"
        );
        assert!(sim.core.is_ended(), "{phase}");
    }
}

#[test]
fn the_far_leg_going_silent_ends_a_bridged_call() {
    let mut sim = bridged();
    sim.far(LegSignal::MediaLost {
        silent_for: Duration::from_secs(30),
    });
    let commands = sim.commands();
    assert!(
        has(&commands, &FAR_HANGUP) && has(&commands, &CALLER_HANGUP),
        "{commands:?}"
    );
}

#[test]
fn the_maximum_duration_hangs_up_the_caller_in_every_phase() {
    for (phase, mut sim, far) in every_phase() {
        let limit = sim.answered_at + MAX;
        assert!(
            sim.core.poll_timeout().is_some_and(|at| at <= limit),
            "{phase}: the limit is a deadline"
        );
        sim.now = limit - ms(1);
        sim.core.handle_timeout(sim.now);
        let commands = sim.commands();
        assert!(
            !commands
                .iter()
                .any(|c| matches!(c, Command::Event { kind: "limit", .. })),
            "{phase}: not yet"
        );
        sim.now = limit;
        sim.core.handle_timeout(limit);
        let commands = sim.commands();
        assert!(
            has(
                &commands,
                &Command::Event {
                    kind: "limit",
                    detail: "maximum call duration 3600 s".into()
                }
            ),
            "{phase}: {commands:?}"
        );
        assert!(has(&commands, &CALLER_HANGUP), "{phase}");
        assert!(
            sim.core.poll_timeout().is_none_or(|at| at > limit),
            "{phase}: the limit fires once"
        );
        let commands = sim.hang_up();
        assert_eq!(has(&commands, &FAR_HANGUP), far, "{phase}");
    }
}

#[test]
fn a_reoffer_is_answered_in_every_phase() {
    for (phase, mut sim, _) in every_phase() {
        sim.caller(LegSignal::ReOffer {
            offer: b"v=0".to_vec(),
        });
        assert_eq!(
            sim.commands(),
            [Command::Leg(
                LegId::Caller,
                LegCommand::AnswerReoffer {
                    offer: b"v=0".to_vec()
                }
            )],
            "{phase}"
        );
    }
}

#[test]
fn the_announcement_names_the_place_the_wait_in_minutes_and_the_callback_key() {
    let prompts = announcement("uk", 3, Some(Duration::from_secs(250)), Some('1'));
    assert_eq!(prompts.len(), 6);
    assert_eq!(
        prompts[3],
        say(
            Sayable::Quantity {
                value: 5,
                unit: "min".into()
            },
            "uk"
        )
    );
    assert_eq!(
        announcement("en", 1, None, None).len(),
        2,
        "no estimate when it is not sure"
    );
}

/// The call core and the queue core (ACD) back to back, as the queue task
/// and the drive loop wire them: the caller's `JoinQueue` joins the ACD,
/// the ACD's `Connect` reaches the caller, `AgentCallEnded` ends the agent's call.
struct Pair {
    sim: Sim,
    acd: crate::queue::Acd,
    caller: crate::queue::CallerId,
}

impl Pair {
    /// A caller in the queue `support`, served by `ann` and `bob` (ann first).
    fn new() -> (Pair, Vec<crate::queue::Action>) {
        let config = r#"
            wrap_up_seconds = 10
            [[queues]]
            name = "support"
            strategy = "round_robin"
            ring_timeout_seconds = 15
            [[agents]]
            id = "ann"
            [[agents]]
            id = "bob"
        "#;
        let mut sim = Sim::answered();
        let config = toml::from_str(config).unwrap_or_else(|e| panic!("{e}"));
        let mut acd = crate::queue::Acd::new(config, sim.now).unwrap();
        for agent in ["ann", "bob"] {
            let id = crate::queue::AgentId(agent.into());
            acd.handle_agent(sim.now, &id, crate::queue::AgentInput::Login)
                .unwrap();
        }
        let commands = sim.choose('2');
        let caller = crate::queue::CallerId(1);
        for command in commands {
            if let Command::JoinQueue {
                queue,
                priority,
                skills,
                waited,
                ..
            } = command
            {
                let join = crate::queue::Join {
                    caller,
                    queue,
                    priority,
                    waited_before: waited,
                    skills,
                };
                acd.handle_join(sim.now, join).unwrap();
            }
        }
        let mut pair = Pair { sim, acd, caller };
        let actions = pair.actions();
        (pair, actions)
    }

    fn actions(&mut self) -> Vec<crate::queue::Action> {
        std::iter::from_fn(|| self.acd.poll_action()).collect()
    }

    fn state(&self, agent: &str) -> crate::queue::AgentState {
        self.acd
            .agent(&crate::queue::AgentId(agent.into()))
            .unwrap()
            .state()
            .clone()
    }

    /// Moves both cores' clocks by `by`.
    fn advance(&mut self, by: Duration) -> Vec<crate::queue::Action> {
        self.sim.advance(by);
        if self.acd.poll_timeout().is_some_and(|at| at <= self.sim.now) {
            self.acd.handle_timeout(self.sim.now);
        }
        self.actions()
    }

    /// Hands the ACD's actions for this caller to the call core, as the queue task does.
    fn deliver(&mut self, actions: Vec<crate::queue::Action>) -> Vec<Command> {
        for action in actions {
            match action {
                crate::queue::Action::Connect { caller, agent, .. } if caller == self.caller => {
                    let notice = QueueNotice::Connect { agent: agent.0 };
                    self.sim.core.handle_queue(self.sim.now, notice);
                }
                crate::queue::Action::Announce {
                    caller,
                    position,
                    estimated_wait,
                    ..
                } if caller == self.caller => {
                    let notice = QueueNotice::Announce {
                        position,
                        estimated_wait,
                    };
                    self.sim.core.handle_queue(self.sim.now, notice);
                }
                _ => {}
            }
        }
        let commands = self.sim.commands();
        for command in &commands {
            if let Command::AgentCallEnded { agent } = command {
                let agent = crate::queue::AgentId(agent.clone());
                self.acd.handle_call_ended(self.sim.now, &agent).unwrap();
            }
        }
        commands
    }
}

/// The offer of the actions, to `agent`.
fn offer_to(actions: &[crate::queue::Action], agent: &str) -> crate::queue::OfferId {
    actions
        .iter()
        .find_map(|a| match a {
            crate::queue::Action::Offer {
                offer, agent: to, ..
            } if to.0 == agent => Some(*offer),
            _ => None,
        })
        .unwrap_or_else(|| panic!("an offer to {agent} in {actions:?}"))
}

#[test]
fn menu_to_queue_to_agent_answers_then_caller_hangs_up_and_the_agent_wraps_up() {
    let (mut pair, actions) = Pair::new();
    let offer = offer_to(&actions, "ann");
    assert_eq!(pair.state("ann"), crate::queue::AgentState::Ringing);
    pair.advance(ms(4000));
    pair.acd
        .handle_offer_result(pair.sim.now, offer, crate::queue::OfferResult::Answered)
        .unwrap();
    let actions = pair.actions();
    let commands = pair.deliver(actions);
    assert!(has(&commands, &Command::Bridge), "{commands:?}");
    assert_eq!(pair.state("ann"), crate::queue::AgentState::OnCall);
    pair.advance(ms(90_000));
    let commands = pair.sim.hang_up();
    assert!(has(&commands, &FAR_HANGUP));
    let agent = crate::queue::AgentId("ann".into());
    for command in &commands {
        if let Command::AgentCallEnded { agent: ended } = command {
            assert_eq!(ended, "ann");
            pair.acd.handle_call_ended(pair.sim.now, &agent).unwrap();
        }
    }
    assert_eq!(pair.state("ann"), crate::queue::AgentState::WrapUp);
    pair.advance(ms(10_000));
    assert_eq!(
        pair.state("ann"),
        crate::queue::AgentState::Available,
        "after the wrap-up"
    );
    assert!(pair.sim.core.is_ended());
}

#[test]
fn an_agent_who_rings_out_is_passed_over_for_the_next_while_the_caller_hears_music() {
    let (mut pair, actions) = Pair::new();
    let first = offer_to(&actions, "ann");
    let actions = pair.advance(ms(15_000));
    assert!(
        actions.iter().any(
            |a| matches!(a, crate::queue::Action::CancelOffer { offer, .. } if *offer == first)
        ),
        "ann rang out: {actions:?}"
    );
    let second = offer_to(&actions, "bob");
    let commands = pair.deliver(actions);
    assert!(!has(&commands, &Command::Bridge), "the caller still waits");
    assert!(matches!(pair.sim.core.phase(), Phase::Waiting { .. }));
    pair.advance(ms(2000));
    pair.acd
        .handle_offer_result(pair.sim.now, second, crate::queue::OfferResult::Answered)
        .unwrap();
    let actions = pair.actions();
    let commands = pair.deliver(actions);
    assert!(has(&commands, &Command::Bridge), "{commands:?}");
    assert_eq!(
        pair.sim.core.phase(),
        &Phase::Bridged {
            agent: Some("bob".into())
        }
    );
}

#[test]
fn a_caller_handed_over_is_queued_at_the_answer_without_a_flow_and_keeps_their_wait() {
    let now = Instant::now();
    let settings = Settings {
        answer_delay: Duration::ZERO,
        max_duration: MAX,
        callback_key: Some('1'),
        music: "queue/music".into(),
        default_language: "en".into(),
    };
    let context = CallContext {
        caller: "+380441234567".into(),
        customer: None,
        language: None,
        now_utc: chrono::Utc::now(),
        split_roll: 0,
    };
    let agent_context = flow::AgentContext {
        caller: "+380441234567".into(),
        customer: Some("c-1".into()),
        language: "uk".into(),
        flow_version: "hotline.yaml@3".into(),
        path: Vec::new(),
        tickets: Vec::new(),
    };
    let handed = crate::call::hand_over::HandedOver {
        queue: "support".into(),
        priority: 2,
        skills: vec!["support".into()],
        context: agent_context.clone(),
        waited: Duration::from_secs(40),
    };
    let mut sim = Sim {
        core: CallCore::new(now, settings, flow(), context).handed_over(handed),
        now,
        answered_at: now,
    };
    sim.commands();
    sim.advance(Duration::ZERO);
    assert_eq!(
        sim.commands(),
        [Command::Leg(LegId::Caller, LegCommand::Answer)]
    );
    sim.advance(ms(100));
    sim.caller(LegSignal::Answered);
    let commands = sim.commands();
    assert!(
        !commands
            .iter()
            .any(|c| matches!(c, Command::FlowStarted { .. })),
        "{commands:?}"
    );
    let join = commands.iter().find_map(|c| match c {
        Command::JoinQueue {
            queue,
            priority,
            context,
            waited,
            ..
        } => Some((queue.clone(), *priority, context.clone(), *waited)),
        _ => None,
    });
    assert_eq!(
        join,
        Some(("support".into(), 2, agent_context, Duration::from_secs(40)))
    );
    assert!(matches!(sim.core.phase(), Phase::Waiting { .. }));
}

#[test]
fn a_waiting_caller_handed_over_is_bridged_when_the_acds_node_answers() {
    let mut sim = waiting();
    sim.core.handle_handed_over(sim.now);
    assert!(matches!(sim.core.phase(), Phase::Transferring { .. }));
    sim.far(LegSignal::Answered);
    let commands = sim.commands();
    assert!(commands.contains(&Command::Bridge), "{commands:?}");
    assert_eq!(sim.core.phase(), &Phase::Bridged { agent: None });
    // The caller hanging up ends the internal call too.
    sim.caller(LegSignal::Ended {
        reason: "bye".into(),
    });
    assert!(has(&sim.commands(), &FAR_HANGUP));
}

/// The music on hold as the core asks it of `leg`.
fn music_to(leg: LegId) -> Command {
    Command::Leg(
        leg,
        LegCommand::Play {
            id: MUSIC,
            prompts: vec![Prompt::File {
                id: "queue/music".into(),
                language: "en".into(),
            }],
            barge_in: false,
            looping: true,
        },
    )
}

#[test]
fn the_agent_holding_plays_music_to_the_caller_until_the_agent_resumes() {
    let mut sim = bridged();
    sim.far(LegSignal::Held);
    let commands = sim.commands();
    assert!(has(&commands, &music_to(LegId::Caller)), "{commands:?}");
    assert!(has(
        &commands,
        &Command::Event {
            kind: "hold",
            detail: "ann holds".into()
        }
    ));
    // A repeated hold (a second re-INVITE) does not restart the music.
    sim.far(LegSignal::Held);
    assert_eq!(sim.commands(), []);
    // The caller's keys still reach the agent's phone.
    sim.key('4');
    assert!(has(
        &sim.commands(),
        &Command::Leg(LegId::Far, LegCommand::SendDigit('4'))
    ));

    sim.advance(Duration::from_secs(60));
    sim.far(LegSignal::Resumed);
    let commands = sim.commands();
    assert!(
        has(
            &commands,
            &Command::Leg(LegId::Caller, LegCommand::StopPlayback)
        ),
        "{commands:?}"
    );
    assert!(
        played(&commands).is_empty(),
        "nothing else plays: {commands:?}"
    );
    assert!(matches!(sim.core.phase(), Phase::Bridged { .. }));
    sim.far(LegSignal::Resumed);
    assert_eq!(sim.commands(), [], "resumed once");
}

#[test]
fn the_caller_holding_plays_music_to_the_agent() {
    let mut sim = bridged();
    sim.caller(LegSignal::Held);
    assert!(has(&sim.commands(), &music_to(LegId::Far)));
    sim.caller(LegSignal::Resumed);
    assert!(has(
        &sim.commands(),
        &Command::Leg(LegId::Far, LegCommand::StopPlayback)
    ));
}

#[test]
fn a_hold_outside_a_bridge_changes_nothing_the_caller_hears() {
    let mut sim = waiting();
    sim.far(LegSignal::Held);
    sim.caller(LegSignal::Held);
    assert_eq!(sim.commands(), []);
}

#[test]
fn hanging_up_while_held_ends_the_call_cleanly() {
    // The agent hangs up during the hold: the caller is hung up, once.
    let mut sim = bridged();
    sim.far(LegSignal::Held);
    sim.commands();
    sim.far(LegSignal::Ended {
        reason: "BYE".into(),
    });
    assert_eq!(sim.commands(), [CALLER_HANGUP]);
    sim.far(LegSignal::Resumed);
    assert_eq!(sim.commands(), [], "a gone agent resumes nothing");
    let commands = sim.hang_up();
    assert_eq!(
        commands,
        [Command::AgentCallEnded {
            agent: "ann".into()
        }]
    );
    assert!(sim.core.is_ended());

    // The caller hangs up while on hold: the agent's phone is hung up.
    let mut sim = bridged();
    sim.far(LegSignal::Held);
    sim.commands();
    let commands = sim.hang_up();
    assert!(has(&commands, &FAR_HANGUP), "{commands:?}");
    assert!(has(
        &commands,
        &Command::AgentCallEnded {
            agent: "ann".into()
        }
    ));
    assert!(sim.core.is_ended());
}

#[test]
fn the_maximum_duration_still_applies_while_held() {
    let mut sim = bridged();
    sim.far(LegSignal::Held);
    sim.commands();
    let limit = sim.answered_at + MAX;
    assert_eq!(sim.core.poll_timeout(), Some(limit));
    sim.now = limit;
    sim.core.handle_timeout(limit);
    let commands = sim.commands();
    assert!(has(&commands, &CALLER_HANGUP), "{commands:?}");
    // Resuming after the hang-up plays or stops nothing.
    sim.far(LegSignal::Resumed);
    assert_eq!(sim.commands(), []);
    assert!(has(&sim.hang_up(), &FAR_HANGUP));
}

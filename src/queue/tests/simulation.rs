//! The wait estimate against simulated traffic: a seeded shell with random arrivals,
//! ring delays, handle times and impatient callers, on a virtual clock.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;

/// Traffic for one run.
#[derive(Clone, Copy)]
struct Traffic {
    seed: u64,
    agents: usize,
    /// Offered load: arrival rate over the agents' capacity.
    load: f64,
    hours: u64,
    /// Range of handle times, in seconds.
    handle: (f64, f64),
}

/// One announcement, and what happened after it.
#[derive(Debug)]
struct Heard {
    at: Duration,
    /// Callers connected before the announcement.
    answers_before: usize,
    estimate: Option<Duration>,
    /// The wait still ahead, known once the caller was connected.
    actual: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Happening {
    Arrive(u64),
    Answer(OfferId),
    CallEnd(usize),
    Abandon(u64),
}

const WRAP_UP_SECS: f64 = 10.0;
const RING_SECS: (f64, f64) = (1.0, 4.0);

/// Runs the traffic and returns every announcement with its caller's actual remaining wait.
fn simulate(traffic: &Traffic) -> (Vec<Heard>, usize) {
    let mut toml = format!(
        r#"
        [[queues]]
        name = "support"
        strategy = "longest_idle"
        skills = ["support"]
        wrap_up_seconds = {WRAP_UP_SECS}
        announce_every_seconds = 30
        "#
    );
    for a in 0..traffic.agents {
        toml += &format!("[[agents]]\nid = \"a{a}\"\nskills = {{ support = 1 }}\n");
    }
    let mut rng = StdRng::seed_from_u64(traffic.seed);
    let base = Instant::now();
    let mut acd = Acd::new(toml::from_str(&toml).unwrap(), base).unwrap();
    let (low, high) = traffic.handle;
    let cycle = (low + high) / 2.0 + WRAP_UP_SECS + (RING_SECS.0 + RING_SECS.1) / 2.0;
    let rate = traffic.load * traffic.agents as f64 / cycle;
    let end = Duration::from_secs(traffic.hours * 3600);

    let mut agenda = BinaryHeap::new();
    let schedule = |agenda: &mut BinaryHeap<_>, at: Duration, what: Happening| {
        agenda.push(Reverse((at, what)));
    };
    for a in 0..traffic.agents {
        acd.handle_agent(base, &AgentId(format!("a{a}")), AgentInput::Login)
            .unwrap();
    }
    schedule(&mut agenda, Duration::ZERO, Happening::Arrive(1));

    let mut heard: HashMap<u64, Vec<Heard>> = HashMap::new();
    let mut done = Vec::new();
    let mut cancelled = HashSet::new();
    let mut answers = 0;
    let mut now = Duration::ZERO;
    loop {
        let acd_due = acd.poll_timeout().map(|t| t - base);
        let next = agenda.peek().map(|Reverse((t, _))| *t);
        match (acd_due, next) {
            (Some(due), next) if next.is_none_or(|n| due <= n) => {
                now = now.max(due);
                acd.handle_timeout(base + now);
            }
            (_, Some(_)) => {
                let Reverse((at, what)) = agenda.pop().unwrap();
                now = at;
                let t = base + now;
                match what {
                    Happening::Arrive(caller) if now < end => {
                        let join = Join {
                            caller: CallerId(caller),
                            queue: "support".into(),
                            priority: 0,
                            waited_before: Duration::ZERO,
                            skills: Vec::new(),
                        };
                        acd.handle_join(t, join).unwrap();
                        let gap = -(1.0 - rng.random::<f64>()).ln() / rate;
                        schedule(&mut agenda, now + secs(gap), Happening::Arrive(caller + 1));
                        if rng.random_bool(0.2) {
                            let patience = rng.random_range(30.0..600.0);
                            schedule(
                                &mut agenda,
                                now + secs(patience),
                                Happening::Abandon(caller),
                            );
                        }
                    }
                    Happening::Arrive(_) => {}
                    Happening::Answer(offer) => {
                        if !cancelled.contains(&offer) {
                            acd.handle_offer_result(t, offer, OfferResult::Answered)
                                .unwrap();
                        }
                    }
                    Happening::CallEnd(agent) => {
                        acd.handle_call_ended(t, &AgentId(format!("a{agent}")))
                            .unwrap();
                    }
                    Happening::Abandon(caller) => {
                        if acd.handle_hangup(t, CallerId(caller)).is_ok() {
                            heard.remove(&caller);
                        }
                    }
                }
            }
            (None, None) => break,
            (Some(_), None) => unreachable!("the first arm takes a deadline with no happening"),
        }
        while let Some(action) = acd.poll_action() {
            match action {
                Action::Offer { offer, .. } => {
                    let ring = rng.random_range(RING_SECS.0..RING_SECS.1);
                    schedule(&mut agenda, now + secs(ring), Happening::Answer(offer));
                }
                Action::CancelOffer { offer, .. } => {
                    cancelled.insert(offer);
                }
                Action::Connect { caller, agent, .. } => {
                    answers += 1;
                    let handle = rng.random_range(low..high);
                    let agent: usize = agent.0[1..].parse().unwrap();
                    schedule(&mut agenda, now + secs(handle), Happening::CallEnd(agent));
                    for mut h in heard.remove(&caller.0).unwrap_or_default() {
                        h.actual = Some(now - h.at);
                        done.push(h);
                    }
                }
                Action::Announce {
                    caller,
                    estimated_wait,
                    ..
                } => heard.entry(caller.0).or_default().push(Heard {
                    at: now,
                    answers_before: answers,
                    estimate: estimated_wait,
                    actual: None,
                }),
                other => panic!("unexpected {other:?}"),
            }
        }
        while acd.poll_event().is_some() {}
    }
    done.sort_by_key(|h| h.at);
    (done, answers)
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// Whether an estimate is near enough to be worth saying: within 30 s or 35 %.
fn close(estimate: Duration, actual: Duration) -> bool {
    let (e, a) = (estimate.as_secs_f64(), actual.as_secs_f64());
    (e - a).abs() <= (0.35 * a).max(30.0)
}

/// Estimates given, and the share of them that were close.
fn score(heard: &[Heard]) -> (usize, f64) {
    let given: Vec<&Heard> = heard.iter().filter(|h| h.estimate.is_some()).collect();
    let near = given
        .iter()
        .filter(|h| close(h.estimate.unwrap(), h.actual.unwrap()))
        .count();
    (given.len(), near as f64 / given.len().max(1) as f64)
}

const BUSY: Traffic = Traffic {
    seed: 0,
    agents: 10,
    load: 0.97,
    hours: 6,
    handle: (120.0, 240.0),
};

#[test]
fn the_estimate_is_close_to_the_actual_wait_for_most_callers_in_a_busy_queue() {
    let small_team = Traffic {
        agents: 2,
        handle: (150.0, 210.0),
        ..BUSY
    };
    // A small team's answers are lumpier, so fewer of its estimates pass the error bound.
    for (traffic, min_given) in [(BUSY, 0.5), (small_team, 0.2)] {
        for seed in 1..=3 {
            let (heard, _) = simulate(&Traffic { seed, ..traffic });
            let (given, share) = score(&heard);
            let agents = traffic.agents;
            assert!(
                given as f64 >= min_given * heard.len() as f64,
                "{agents} agents, seed {seed}: only {given} of {} given",
                heard.len()
            );
            assert!(
                share >= 0.8,
                "{agents} agents, seed {seed}: {:.0} % of {given} estimates close",
                share * 100.0
            );
        }
    }
}

#[test]
fn the_estimate_is_withheld_until_enough_answers_were_seen() {
    let (heard, _) = simulate(&Traffic { seed: 1, ..BUSY });
    let first = heard.iter().find(|h| h.estimate.is_some()).unwrap();
    // Samples need a backlog, so more answers than samples come first.
    assert!(first.answers_before > MIN_SAMPLES, "{first:?}");
    assert!(
        heard
            .iter()
            .any(|h| h.estimate.is_none() && h.at < first.at)
    );
}

#[test]
fn the_estimate_is_withheld_when_handle_times_vary_widely_on_a_small_team() {
    for seed in 1..=3 {
        let traffic = Traffic {
            seed,
            agents: 2,
            handle: (30.0, 900.0),
            ..BUSY
        };
        let (heard, _) = simulate(&traffic);
        let (given, _) = score(&heard);
        assert!(
            given * 20 < heard.len(),
            "seed {seed}: {given} of {} given",
            heard.len()
        );
    }
}

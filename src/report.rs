//! The contact-centre report: the figures admins judge a hotline by, counted
//! from the call records, the queue log and the tickets of a period.
//!
//! Pure computation over rows already read (`Db::report_input` reads them),
//! so every figure is tested on hand-made records. Definitions:
//! - **containment**: calls whose flow ended with the caller served by the IVR
//!   alone; **auto-registration**: calls that ended with a ticket and no
//!   agent; **to agent**: calls handed to a queue or transferred. Shares are
//!   of all calls in the period.
//! - **service level**: callers answered within `service_level_seconds` of
//!   entering the IVR, over callers answered or abandoned in the queue
//!   (callbacks asked for count neither way); **abandonment**: abandoned over
//!   answered plus abandoned. Waits include the time in the IVR, as the
//!   queue log records them.
//! - **average speed of answer**: the mean wait of answered callers;
//!   **average handle time**: the mean talk time of ended agent calls.
//! - **menu choices**: single keys pressed at each node, from each call's
//!   path; numbers collected (accounts, readings) are not listed.
//! - **agents**: offers rung, answered, missed (rang out, busy, declined or
//!   unreachable; an offer withdrawn because someone else answered or the
//!   caller left is not the agent's miss), calls handled and talk time.
//! - **tickets**: registered in the period; open ones, and open ones past
//!   their due time (overdue), whenever they were registered.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

/// What the report needs of one call record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallFacts {
    /// How the call left the flow (`contained_by_ivr`, `ticket_registered`,
    /// `to_agent`, `transferred`, `abandoned`), when it ran one.
    pub flow_outcome: Option<String>,
    /// The way it took: nodes and `[keys]`, space-separated.
    pub path: Option<String>,
    /// Where it came in: `sip` or `web`.
    pub channel: String,
}

/// What the report needs of one ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketFacts {
    pub status: String,
    pub due_at_ms: i64,
    /// Registered within the report's period.
    pub in_period: bool,
}

/// Everything a report is computed from.
#[derive(Debug, Clone, Default)]
pub struct ReportInput {
    pub calls: Vec<CallFacts>,
    /// The queue log of the period, as the event stream writes it.
    pub queue_events: Vec<serde_json::Value>,
    pub tickets: Vec<TicketFacts>,
    pub now_ms: i64,
    pub service_level_seconds: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Report {
    pub calls: CallFigures,
    pub queue: QueueFigures,
    pub menu: Vec<MenuChoice>,
    pub agents: Vec<AgentFigures>,
    pub tickets: TicketFigures,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CallFigures {
    pub total: u64,
    /// Of `total`, calls from phones and trunks (SIP).
    pub sip: u64,
    /// Of `total`, calls from web pages (the "call us" widget).
    pub web: u64,
    pub contained_by_ivr: u64,
    pub ticket_registered: u64,
    pub to_agent: u64,
    pub transferred: u64,
    /// Hung up in the IVR before being served.
    pub abandoned_in_ivr: u64,
    /// No flow outcome: refused, cancelled, no media, or still in progress.
    pub other: u64,
    /// Shares of `total`, 0 to 1; None when there were no calls.
    pub containment: Option<f64>,
    pub auto_registration: Option<f64>,
    pub to_agent_share: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct QueueFigures {
    /// Callers who entered a queue from the IVR (overflows not counted again).
    pub entered: u64,
    pub answered: u64,
    pub abandoned: u64,
    pub callbacks_requested: u64,
    pub service_level_seconds: u64,
    pub service_level: Option<f64>,
    pub abandonment: Option<f64>,
    pub average_speed_of_answer_ms: Option<u64>,
    pub average_handle_time_ms: Option<u64>,
    pub longest_wait_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct MenuChoice {
    pub node: String,
    pub key: String,
    pub count: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AgentFigures {
    pub agent: String,
    pub offered: u64,
    pub answered: u64,
    pub missed: u64,
    pub handled: u64,
    pub talk_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TicketFigures {
    pub registered: u64,
    pub open: u64,
    pub overdue: u64,
}

/// Ticket statuses that mean the work is done.
pub const CLOSED: [&str; 3] = ["closed", "done", "resolved"];

/// Computes the report of a period.
pub fn compute(input: &ReportInput) -> Report {
    Report {
        calls: call_figures(&input.calls),
        queue: queue_figures(&input.queue_events, input.service_level_seconds),
        menu: menu_choices(&input.calls),
        agents: agent_figures(&input.queue_events),
        tickets: ticket_figures(&input.tickets, input.now_ms),
    }
}

/// The queue figures of one queue: its own events, against its own target.
pub fn queue_compute(input: &ReportInput, queue: &str, service_level_seconds: u64) -> QueueFigures {
    let events: Vec<serde_json::Value> = input
        .queue_events
        .iter()
        .filter(|e| e["queue"] == queue)
        .cloned()
        .collect();
    queue_figures(&events, service_level_seconds)
}

fn ticket_figures(tickets: &[TicketFacts], now_ms: i64) -> TicketFigures {
    let open = || {
        tickets
            .iter()
            .filter(|t| !CLOSED.contains(&t.status.as_str()))
    };
    TicketFigures {
        registered: tickets.iter().filter(|t| t.in_period).count() as u64,
        open: open().count() as u64,
        overdue: open().filter(|t| t.due_at_ms < now_ms).count() as u64,
    }
}

fn call_figures(calls: &[CallFacts]) -> CallFigures {
    let count = |outcome: &str| {
        calls
            .iter()
            .filter(|c| c.flow_outcome.as_deref() == Some(outcome))
            .count() as u64
    };
    let total = calls.len() as u64;
    let web = calls.iter().filter(|c| c.channel == "web").count() as u64;
    let contained_by_ivr = count("contained_by_ivr");
    let ticket_registered = count("ticket_registered");
    let to_agent = count("to_agent");
    let transferred = count("transferred");
    let abandoned_in_ivr = count("abandoned");
    let known = contained_by_ivr + ticket_registered + to_agent + transferred + abandoned_in_ivr;
    CallFigures {
        total,
        sip: total - web,
        web,
        contained_by_ivr,
        ticket_registered,
        to_agent,
        transferred,
        abandoned_in_ivr,
        other: total - known,
        containment: share(contained_by_ivr, total),
        auto_registration: share(ticket_registered, total),
        to_agent_share: share(to_agent + transferred, total),
    }
}

fn queue_figures(events: &[serde_json::Value], service_level_seconds: u64) -> QueueFigures {
    let of = |kind: &'static str| events.iter().filter(move |e| e["event"] == kind);
    let ms = |e: &serde_json::Value, field: &str| e[field].as_u64().unwrap_or(0);
    let answered: Vec<u64> = of("answered")
        .filter(|e| e["callback"] != true)
        .map(|e| ms(e, "waited_ms"))
        .collect();
    let abandoned: Vec<u64> = of("abandoned").map(|e| ms(e, "waited_ms")).collect();
    let talks: Vec<u64> = of("call_ended").map(|e| ms(e, "talk_ms")).collect();
    let within = answered
        .iter()
        .filter(|w| **w <= service_level_seconds.saturating_mul(1000))
        .count() as u64;
    let served_or_lost = (answered.len() + abandoned.len()) as u64;
    let longest_wait_ms = [
        "answered",
        "abandoned",
        "callback_requested",
        "limit_reached",
    ]
    .into_iter()
    .flat_map(|kind| of(kind).map(|e| ms(e, "waited_ms")))
    .max();
    QueueFigures {
        entered: of("caller_joined")
            .filter(|e| e["overflow_from"].is_null())
            .count() as u64,
        answered: answered.len() as u64,
        abandoned: abandoned.len() as u64,
        callbacks_requested: of("callback_requested").count() as u64,
        service_level_seconds,
        service_level: share(within, served_or_lost),
        abandonment: share(abandoned.len() as u64, served_or_lost),
        average_speed_of_answer_ms: mean(&answered),
        average_handle_time_ms: mean(&talks),
        longest_wait_ms,
    }
}

fn menu_choices(calls: &[CallFacts]) -> Vec<MenuChoice> {
    let mut counts: BTreeMap<(String, String), u64> = BTreeMap::new();
    for path in calls.iter().filter_map(|c| c.path.as_deref()) {
        let mut node: Option<&str> = None;
        for step in path.split_whitespace() {
            match step.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
                Some(keys) if keys.chars().count() == 1 => {
                    if let Some(node) = node {
                        *counts
                            .entry((node.to_owned(), keys.to_owned()))
                            .or_default() += 1;
                    }
                }
                Some(_) => {}
                None => node = Some(step),
            }
        }
    }
    counts
        .into_iter()
        .map(|((node, key), count)| MenuChoice { node, key, count })
        .collect()
}

fn agent_figures(events: &[serde_json::Value]) -> Vec<AgentFigures> {
    let mut agents: BTreeMap<String, AgentFigures> = BTreeMap::new();
    for event in events {
        let Some(agent) = event["agent"].as_str() else {
            continue;
        };
        let figures = agents
            .entry(agent.to_owned())
            .or_insert_with(|| AgentFigures {
                agent: agent.to_owned(),
                ..AgentFigures::default()
            });
        match event["event"].as_str().unwrap_or_default() {
            "offered" => figures.offered += 1,
            "answered" => figures.answered += 1,
            "offer_ended" if event["outcome"] != "cancelled" => figures.missed += 1,
            "call_ended" => {
                figures.handled += 1;
                figures.talk_ms += event["talk_ms"].as_u64().unwrap_or(0);
            }
            _ => {}
        }
    }
    // Agents whose only events are state changes did no call work.
    agents
        .into_values()
        .filter(|a| a.offered + a.answered + a.handled > 0)
        .collect()
}

/// The period `[from, to)` in milliseconds since the epoch, from a date
/// (`2026-12-01`, a day of `time_zone` from its start) or an RFC 3339 time
/// for each end. By default the period is today in `time_zone` until `now`;
/// a `to` date includes that whole day.
pub fn period(
    from: Option<&str>,
    to: Option<&str>,
    time_zone: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(i64, i64), String> {
    let zone: chrono_tz::Tz = match time_zone {
        None => chrono_tz::UTC,
        Some(name) => name
            .parse()
            .map_err(|_| format!("`{name}` is not a time zone (e.g. Europe/Kyiv)"))?,
    };
    let today = now.with_timezone(&zone).date_naive();
    let from_ms = match from {
        None => day_start(today, zone),
        Some(text) => instant(text, false, zone)?,
    };
    let to_ms = match to {
        None => now.timestamp_millis() + 1,
        Some(text) => instant(text, true, zone)?,
    };
    if to_ms <= from_ms {
        return Err(format!(
            "the period ends ({}) before it starts ({})",
            to.unwrap_or("now"),
            from.unwrap_or("today")
        ));
    }
    Ok((from_ms, to_ms))
}

/// A date's start (or, as the end of a period, the next day's start) in
/// `zone`, or an RFC 3339 time.
fn instant(text: &str, end: bool, zone: chrono_tz::Tz) -> Result<i64, String> {
    if let Ok(date) = chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d") {
        let day = if end {
            date.succ_opt().unwrap_or(date)
        } else {
            date
        };
        return Ok(day_start(day, zone));
    }
    chrono::DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.timestamp_millis())
        .map_err(|_| format!("`{text}` is neither a date (2026-12-01) nor an RFC 3339 time"))
}

/// When `day` begins in `zone` (its first valid moment, should midnight be
/// skipped by a clock change), in Unix milliseconds.
pub fn day_start(day: chrono::NaiveDate, zone: chrono_tz::Tz) -> i64 {
    use chrono::TimeZone;
    let midnight = day.and_time(chrono::NaiveTime::MIN);
    (0..4)
        .find_map(|hour| {
            zone.from_local_datetime(&(midnight + chrono::Duration::hours(hour)))
                .earliest()
        })
        .map_or_else(
            || midnight.and_utc().timestamp_millis(),
            |t| t.timestamp_millis(),
        )
}

fn share(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

fn mean(values: &[u64]) -> Option<u64> {
    (!values.is_empty()).then(|| values.iter().sum::<u64>() / values.len() as u64)
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.calls;
        writeln!(f, "Calls                  {}", c.total)?;
        writeln!(
            f,
            "  by phone (SIP)       {}, from the web {}",
            c.sip, c.web
        )?;
        writeln!(
            f,
            "  served by the IVR    {} ({})",
            c.contained_by_ivr,
            percent(c.containment)
        )?;
        writeln!(
            f,
            "  ticket, no agent     {} ({})",
            c.ticket_registered,
            percent(c.auto_registration)
        )?;
        writeln!(
            f,
            "  to an agent          {} ({}), transferred {}",
            c.to_agent,
            percent(c.to_agent_share),
            c.transferred
        )?;
        writeln!(f, "  hung up in the IVR   {}", c.abandoned_in_ivr)?;
        writeln!(f, "  other                {}", c.other)?;
        let q = &self.queue;
        writeln!(f, "Queue")?;
        writeln!(
            f,
            "  entered {}, answered {}, abandoned {}, callbacks {}",
            q.entered, q.answered, q.abandoned, q.callbacks_requested
        )?;
        writeln!(
            f,
            "  service level ({} s)  {}",
            q.service_level_seconds,
            percent(q.service_level)
        )?;
        writeln!(f, "  abandonment          {}", percent(q.abandonment))?;
        writeln!(
            f,
            "  speed of answer      {}",
            seconds(q.average_speed_of_answer_ms)
        )?;
        writeln!(
            f,
            "  handle time          {}",
            seconds(q.average_handle_time_ms)
        )?;
        writeln!(f, "  longest wait         {}", seconds(q.longest_wait_ms))?;
        writeln!(f, "Menu choices")?;
        for choice in &self.menu {
            writeln!(
                f,
                "  {:<20} {:>3} {:>6}",
                choice.node, choice.key, choice.count
            )?;
        }
        writeln!(
            f,
            "Agents                 offered answered missed handled talk"
        )?;
        for a in &self.agents {
            writeln!(
                f,
                "  {:<20} {:>7} {:>8} {:>6} {:>7} {}",
                a.agent,
                a.offered,
                a.answered,
                a.missed,
                a.handled,
                seconds(Some(a.talk_ms))
            )?;
        }
        writeln!(
            f,
            "Tickets                registered {}, open {}, overdue {}",
            self.tickets.registered, self.tickets.open, self.tickets.overdue
        )
    }
}

fn percent(share: Option<f64>) -> String {
    share.map_or_else(|| "-".into(), |s| format!("{:.1} %", s * 100.0))
}

fn seconds(ms: Option<u64>) -> String {
    ms.map_or_else(|| "-".into(), |ms| format!("{:.1} s", ms as f64 / 1000.0))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn call(outcome: Option<&str>, path: &str) -> CallFacts {
        CallFacts {
            flow_outcome: outcome.map(str::to_owned),
            path: Some(path.to_owned()),
            channel: "sip".into(),
        }
    }

    #[test]
    fn call_outcomes_give_containment_auto_registration_and_the_agent_share() {
        let calls = vec![
            call(Some("contained_by_ivr"), "welcome main [1] balance"),
            call(Some("contained_by_ivr"), "welcome main [2] services"),
            call(Some("ticket_registered"), "welcome main [3] fault"),
            call(Some("to_agent"), "welcome main [0] operator"),
            call(Some("transferred"), "welcome main [9] transfer"),
            call(Some("abandoned"), "welcome main"),
            call(None, ""),
            CallFacts {
                channel: "web".into(),
                ..call(Some("contained_by_ivr"), "welcome main [1] balance")
            },
        ];
        let report = compute(&ReportInput {
            calls,
            ..ReportInput::default()
        });
        let c = report.calls;
        assert_eq!(
            (c.total, c.contained_by_ivr, c.ticket_registered),
            (8, 3, 1)
        );
        assert_eq!((c.sip, c.web), (7, 1), "calls by channel");
        assert_eq!(
            (c.to_agent, c.transferred, c.abandoned_in_ivr, c.other),
            (1, 1, 1, 1)
        );
        assert_eq!(c.containment, Some(3.0 / 8.0));
        assert_eq!(c.auto_registration, Some(1.0 / 8.0));
        assert_eq!(c.to_agent_share, Some(2.0 / 8.0));
        let empty = compute(&ReportInput::default());
        assert_eq!(empty.calls.containment, None);
    }

    #[test]
    fn menu_choices_count_single_keys_per_node_not_collected_numbers() {
        let calls = vec![
            call(
                None,
                "welcome choose_language [2] ask_account [100200300] main [1] balance main [1]",
            ),
            call(None, "welcome main [3] fault [1] main [0] operator"),
        ];
        let report = compute(&ReportInput {
            calls,
            ..ReportInput::default()
        });
        let choices: Vec<(&str, &str, u64)> = report
            .menu
            .iter()
            .map(|c| (c.node.as_str(), c.key.as_str(), c.count))
            .collect();
        assert_eq!(
            choices,
            [
                ("choose_language", "2", 1),
                ("fault", "1", 1),
                ("main", "0", 1),
                ("main", "1", 2),
                ("main", "3", 1),
            ]
        );
    }

    #[test]
    fn queue_figures_from_the_log() {
        let events = vec![
            json!({"event": "caller_joined", "overflow_from": null}),
            json!({"event": "caller_joined", "overflow_from": null}),
            json!({"event": "caller_joined", "overflow_from": null}),
            json!({"event": "caller_joined", "overflow_from": "support"}),
            json!({"event": "caller_joined", "overflow_from": null}),
            json!({"event": "offered", "agent": "alice", "outcome": null}),
            json!({"event": "offer_ended", "agent": "alice", "outcome": "ring_timeout"}),
            json!({"event": "offered", "agent": "bob"}),
            json!({"event": "answered", "agent": "bob", "waited_ms": 12_000, "callback": false}),
            json!({"event": "offered", "agent": "bob"}),
            json!({"event": "answered", "agent": "bob", "waited_ms": 40_000, "callback": false}),
            json!({"event": "offered", "agent": "alice"}),
            json!({"event": "offer_ended", "agent": "alice", "outcome": "cancelled"}),
            json!({"event": "abandoned", "waited_ms": 65_000}),
            json!({"event": "callback_requested", "waited_ms": 90_000}),
            json!({"event": "call_ended", "agent": "bob", "talk_ms": 100_000}),
            json!({"event": "call_ended", "agent": "bob", "talk_ms": 200_000}),
            json!({"event": "agent_state_changed", "agent": "carol", "state": "available"}),
        ];
        let report = compute(&ReportInput {
            queue_events: events,
            service_level_seconds: 20,
            ..ReportInput::default()
        });
        let q = report.queue;
        assert_eq!(
            (q.entered, q.answered, q.abandoned, q.callbacks_requested),
            (4, 2, 1, 1)
        );
        assert_eq!(q.service_level, Some(1.0 / 3.0));
        assert_eq!(q.abandonment, Some(1.0 / 3.0));
        assert_eq!(q.average_speed_of_answer_ms, Some(26_000));
        assert_eq!(q.average_handle_time_ms, Some(150_000));
        assert_eq!(q.longest_wait_ms, Some(90_000));
        assert_eq!(
            report.agents,
            [
                AgentFigures {
                    agent: "alice".into(),
                    offered: 2,
                    missed: 1,
                    ..AgentFigures::default()
                },
                AgentFigures {
                    agent: "bob".into(),
                    offered: 2,
                    answered: 2,
                    handled: 2,
                    talk_ms: 300_000,
                    ..AgentFigures::default()
                },
            ]
        );
    }

    #[test]
    fn a_service_level_beyond_any_wait_counts_every_answer_within_it() {
        let report = compute(&ReportInput {
            queue_events: vec![json!({"event": "answered", "waited_ms": 12_000})],
            service_level_seconds: u64::MAX,
            ..ReportInput::default()
        });
        assert_eq!(report.queue.service_level, Some(1.0));
    }

    #[test]
    fn periods_are_whole_days_of_a_time_zone_or_exact_times() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-01T10:30:00Z")
            .unwrap()
            .to_utc();
        let day = 86_400_000;
        let today = 1_796_083_200_000; // 2026-12-01T00:00:00Z
        assert_eq!(
            period(None, None, None, now),
            Ok((today, now.timestamp_millis() + 1))
        );
        assert_eq!(
            period(Some("2026-11-30"), Some("2026-11-30"), None, now),
            Ok((today - day, today))
        );
        assert_eq!(
            period(Some("2026-12-01T08:00:00+02:00"), None, None, now).map(|p| p.0),
            Ok(today + 6 * 3_600_000)
        );
        // Kyiv's day starts two hours before UTC's in winter.
        assert_eq!(
            period(None, None, Some("Europe/Kyiv"), now).map(|p| p.0),
            Ok(today - 2 * 3_600_000)
        );
        assert!(period(None, None, Some("Mars/Olympus"), now).is_err());
        assert!(period(Some("yesterday"), None, None, now).is_err());
        assert!(period(Some("2026-12-02"), Some("2026-12-01"), None, now).is_err());
    }

    #[test]
    fn open_tickets_count_whenever_registered_and_overdue_ones_are_past_their_due_time() {
        let ticket = |status: &str, due_at_ms: i64, in_period: bool| TicketFacts {
            status: status.into(),
            due_at_ms,
            in_period,
        };
        let report = compute(&ReportInput {
            tickets: vec![
                ticket("new", 100, true),
                ticket("new", 5_000, true),
                ticket("closed", 100, false),
                ticket("new", 200, false),
            ],
            now_ms: 1_000,
            ..ReportInput::default()
        });
        assert_eq!(
            report.tickets,
            TicketFigures {
                registered: 2,
                open: 3,
                overdue: 2
            }
        );
        assert!(
            report
                .to_string()
                .contains("registered 2, open 3, overdue 2")
        );
    }
}

//! Green, amber or red against a queue's target, always with words, so a
//! colour-blind reader (or a TV across the room) reads the same verdict.
//!
//! - service level at or above the target percent: green; up to 10 points
//!   below: amber; lower: red;
//! - longest current wait under half the target seconds: green; under the
//!   target seconds: amber; else red;
//! - callers on hold with no agent free: red.

use serde::Serialize;
use serde_json::Value;

use super::Targets;
use crate::queue::ServiceLevel;

/// A verdict on one figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rating {
    pub level: Level,
    pub label: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Green,
    Amber,
    Red,
}

/// Today's service level (a share, 0 to 1) against the target; none before any call.
pub fn service_level(actual: Option<f64>, target: ServiceLevel) -> Option<Rating> {
    let percent = actual? * 100.0;
    let target = f64::from(target.percent);
    Some(if percent >= target {
        rating(Level::Green, "on target")
    } else if percent >= target - 10.0 {
        rating(Level::Amber, "below target")
    } else {
        rating(Level::Red, "far below target")
    })
}

/// The longest current wait against the target seconds.
pub fn longest_wait(waited_ms: Option<u64>, target: ServiceLevel) -> Rating {
    let limit_ms = u64::from(target.seconds) * 1000;
    match waited_ms {
        None => rating(Level::Green, "nobody waiting"),
        Some(ms) if ms < limit_ms / 2 => rating(Level::Green, "short wait"),
        Some(ms) if ms < limit_ms => rating(Level::Amber, "wait nearing target"),
        Some(_) => rating(Level::Red, "wait over target"),
    }
}

/// Callers on hold against agents free.
pub fn staffing(on_hold: u64, available: u64) -> Rating {
    match (on_hold, available) {
        (0, _) => rating(Level::Green, "no caller on hold"),
        (_, 0) => rating(Level::Red, "callers waiting, no agent free"),
        _ => rating(Level::Amber, "callers waiting, agents free"),
    }
}

/// Adds each queue's target and ratings to a live queue snapshot.
pub fn rate_live(snapshot: &mut Value, targets: &Targets) {
    let Some(queues) = snapshot["queues"].as_array_mut() else {
        return;
    };
    for queue in queues {
        let target = targets.get(queue["name"].as_str().unwrap_or_default());
        let wait = longest_wait(queue["longest_wait_ms"].as_u64(), target);
        let staff = staffing(
            queue["on_hold"].as_u64().unwrap_or(0),
            queue["agents_available"].as_u64().unwrap_or(0),
        );
        queue["target"] = serde_json::json!(target);
        queue["ratings"] = serde_json::json!({ "longest_wait": wait, "staffing": staff });
    }
}

fn rating(level: Level, label: &'static str) -> Rating {
    Rating { level, label }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EIGHTY_TWENTY: ServiceLevel = ServiceLevel {
        percent: 80,
        seconds: 20,
    };

    #[test]
    fn service_level_is_green_at_target_amber_within_ten_points_red_below() {
        let level = |share| service_level(Some(share), EIGHTY_TWENTY).map(|r| r.level);
        assert_eq!(level(0.80), Some(Level::Green));
        assert_eq!(level(0.75), Some(Level::Amber));
        assert_eq!(level(0.70), Some(Level::Amber));
        assert_eq!(level(0.69), Some(Level::Red));
        assert_eq!(service_level(None, EIGHTY_TWENTY), None);
    }

    #[test]
    fn longest_wait_is_judged_against_the_target_seconds() {
        let level = |ms| longest_wait(Some(ms), EIGHTY_TWENTY).level;
        assert_eq!(level(9_999), Level::Green);
        assert_eq!(level(10_000), Level::Amber);
        assert_eq!(level(20_000), Level::Red);
        assert_eq!(longest_wait(None, EIGHTY_TWENTY).label, "nobody waiting");
    }

    #[test]
    fn callers_on_hold_with_nobody_free_is_red_with_words() {
        let red = staffing(1, 0);
        assert_eq!(red.level, Level::Red);
        assert!(red.label.contains("no agent free"));
        assert_eq!(staffing(0, 0).level, Level::Green);
    }

    #[test]
    fn a_live_snapshot_gets_its_queues_target_and_ratings() {
        let targets = Targets::from_pairs(vec![(
            "support".into(),
            ServiceLevel {
                percent: 90,
                seconds: 10,
            },
        )]);
        let mut live = serde_json::json!({"queues": [
            {"name": "support", "on_hold": 1, "longest_wait_ms": 12_000, "agents_available": 0}
        ]});
        rate_live(&mut live, &targets);
        let queue = &live["queues"][0];
        assert_eq!(queue["target"]["seconds"], 10);
        assert_eq!(queue["ratings"]["longest_wait"]["level"], "red");
        assert_eq!(queue["ratings"]["staffing"]["level"], "red");
    }
}

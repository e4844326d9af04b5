//! Strategies: which of the agents free to take a caller gets the offer.
//!
//! The dispatcher has already narrowed the agents to those available, serving
//! the queue, allowed by escalation and not yet tried for this caller; a
//! strategy only orders them. Ties go to the agent declared (or added) first.

use serde::{Deserialize, Serialize};

use super::agent::Agent;
use super::config::QueueSpec;

/// How a queue chooses among free agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// The agent whose last call ended longest ago (or who logged in longest ago).
    LongestIdle,
    /// The next agent after the one offered last, going round the agent list.
    RoundRobin,
    /// The agent who took the fewest calls; ties go to the longest idle.
    FewestCalls,
    /// Every free agent at once; the first to answer wins.
    RingAll,
    /// The lowest skill level first; within a level, the longest idle.
    SkillLevel,
}

/// The agents to offer the caller to, from `candidates` (indices into `agents`, in agent order).
///
/// `rr_next` is the round-robin cursor: the agent index where the last round stopped, plus one.
pub(super) fn choose(
    strategy: Strategy,
    candidates: &[usize],
    agents: &[Agent],
    spec: &QueueSpec,
    caller_skills: &[String],
    rr_next: usize,
) -> Vec<usize> {
    let idle = |&a: &usize| agents[a].idle_since();
    let pick = match strategy {
        Strategy::RingAll => return candidates.to_vec(),
        Strategy::LongestIdle => candidates.iter().copied().min_by_key(idle),
        Strategy::FewestCalls => candidates
            .iter()
            .copied()
            .min_by_key(|a| (agents[*a].calls_taken(), idle(a))),
        Strategy::SkillLevel => candidates
            .iter()
            .copied()
            .min_by_key(|a| (agents[*a].level(spec, caller_skills), idle(a))),
        Strategy::RoundRobin => {
            // Distance forward from the cursor, wrapping round the agent list.
            let n = agents.len();
            candidates
                .iter()
                .copied()
                .min_by_key(|&a| (a + n - rr_next % n) % n)
        }
    };
    pick.into_iter().collect()
}

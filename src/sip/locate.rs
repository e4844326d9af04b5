//! Locating the server a SIP URI names (RFC 3263 §4), the part that needs no
//! network: which DNS question to ask, and the order SRV answers are tried in
//! (RFC 2782). The lookups themselves are in `server::locator`.
//!
//! A numeric host, or a name with an explicit port, is used as it is (A or
//! AAAA for a name). A name without a port is looked up as
//! `_sip._udp.NAME` (`_sip._tcp` with `transport=tcp`); without SRV records
//! the name itself is used, at port 5060. NAPTR records are not consulted:
//! the transport is UDP unless the URI names TCP.

use rand::Rng;

use crate::sip::transaction::Transport;

/// The SRV name to ask for a host without a port.
pub fn srv_name(host: &str, transport: Transport) -> String {
    let protocol = match transport {
        Transport::Udp => "_udp",
        Transport::Tcp => "_tcp",
        // RFC 7118 §7 defines no SRV resolution for WebSocket servers.
        Transport::Ws => "_ws",
    };
    format!("_sip.{protocol}.{}.", host.trim_end_matches('.'))
}

/// One SRV answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrvTarget {
    pub priority: u16,
    pub weight: u16,
    pub port: u16,
    pub target: String,
}

/// The order to try SRV targets in: lowest priority first, and within a
/// priority a weighted random order (a target of weight 0 is tried after
/// those with weight, RFC 2782). A target of "." means the service is not
/// offered there and is dropped.
pub fn srv_order(mut targets: Vec<SrvTarget>, rng: &mut impl Rng) -> Vec<SrvTarget> {
    targets.retain(|t| !t.target.trim_end_matches('.').is_empty());
    targets.sort_by_key(|t| t.priority);
    let mut ordered = Vec::with_capacity(targets.len());
    let mut rest = targets.as_slice();
    while let Some(first) = rest.first() {
        let same = rest
            .iter()
            .take_while(|t| t.priority == first.priority)
            .count();
        let mut group: Vec<SrvTarget> = rest[..same].to_vec();
        rest = &rest[same..];
        // Weight 0 first in the list, as RFC 2782 asks, so it is picked only
        // when nothing with weight is left (or by a draw of 0).
        group.sort_by_key(|t| t.weight);
        while !group.is_empty() {
            let total: u32 = group.iter().map(|t| u32::from(t.weight)).sum();
            let draw = rng.random_range(0..=total);
            let mut running = 0;
            let pick = group
                .iter()
                .position(|t| {
                    running += u32::from(t.weight);
                    running >= draw
                })
                .unwrap_or(0);
            ordered.push(group.remove(pick));
        }
    }
    ordered
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    fn srv(priority: u16, weight: u16, target: &str) -> SrvTarget {
        SrvTarget {
            priority,
            weight,
            port: 5060,
            target: target.into(),
        }
    }

    #[test]
    fn srv_names_follow_the_transport() {
        assert_eq!(
            srv_name("trunk.example", Transport::Udp),
            "_sip._udp.trunk.example."
        );
        assert_eq!(
            srv_name("trunk.example.", Transport::Tcp),
            "_sip._tcp.trunk.example."
        );
    }

    #[test]
    fn lower_priorities_come_first_and_dot_targets_are_dropped() {
        let mut rng = StdRng::seed_from_u64(1);
        let ordered = srv_order(
            vec![srv(20, 0, "backup."), srv(10, 0, "main."), srv(5, 0, ".")],
            &mut rng,
        );
        let names: Vec<&str> = ordered.iter().map(|t| t.target.as_str()).collect();
        assert_eq!(names, ["main.", "backup."]);
    }

    #[test]
    fn weights_share_the_first_place_in_proportion() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut heavy_first = 0;
        let mut zero_first = 0;
        for _ in 0..4000 {
            let ordered = srv_order(
                vec![
                    srv(10, 10, "light."),
                    srv(10, 30, "heavy."),
                    srv(10, 0, "zero."),
                ],
                &mut rng,
            );
            assert_eq!(ordered.len(), 3);
            match ordered[0].target.as_str() {
                "heavy." => heavy_first += 1,
                "zero." => zero_first += 1,
                _ => {}
            }
        }
        // heavy: 30 of 40 (+1 for the draw of 0) ≈ 73 %.
        assert!((2700..3200).contains(&heavy_first), "{heavy_first}");
        assert!(zero_first < 200, "{zero_first}");
    }
}

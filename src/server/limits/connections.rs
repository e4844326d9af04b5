//! Caps on accepted TCP connections, in all and per source.

use std::collections::HashMap;
use std::net::IpAddr;

use super::LimitSettings;

/// Why an accepted connection is closed at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ConnectionRefusal {
    #[error("the cap on TCP connections in all is reached")]
    Total,
    #[error("the source's cap on TCP connections is reached")]
    PerSource,
}

/// Counts accepted connections; trusted sources are counted but never refused.
#[derive(Debug)]
pub struct ConnectionCaps {
    settings: LimitSettings,
    open: usize,
    by_source: HashMap<IpAddr, usize>,
}

impl ConnectionCaps {
    /// Caps with no connection open.
    pub fn new(settings: LimitSettings) -> ConnectionCaps {
        ConnectionCaps {
            settings,
            open: 0,
            by_source: HashMap::new(),
        }
    }

    /// Counts a new connection from `ip`, or says why it must be closed.
    pub fn admit(&mut self, ip: IpAddr) -> Result<(), ConnectionRefusal> {
        if !self.settings.is_trusted(ip) {
            if self.open >= self.settings.tcp_max_connections {
                return Err(ConnectionRefusal::Total);
            }
            let from_source = self.by_source.get(&ip).copied().unwrap_or(0);
            if from_source >= self.settings.tcp_connections_per_source {
                return Err(ConnectionRefusal::PerSource);
            }
        }
        self.open += 1;
        *self.by_source.entry(ip).or_insert(0) += 1;
        Ok(())
    }

    /// A connection counted by [`Self::admit`] is closed.
    pub fn closed(&mut self, ip: IpAddr) {
        self.open = self.open.saturating_sub(1);
        if let Some(count) = self.by_source.get_mut(&ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.by_source.remove(&ip);
            }
        }
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(total: usize, per_source: usize) -> ConnectionCaps {
        ConnectionCaps::new(LimitSettings {
            tcp_max_connections: total,
            tcp_connections_per_source: per_source,
            trusted: vec!["192.0.2.1".parse().unwrap()],
            ..LimitSettings::default()
        })
    }

    #[test]
    fn one_source_cannot_take_more_than_its_share() {
        let mut caps = caps(10, 2);
        let a: IpAddr = "198.51.100.1".parse().unwrap();
        let b: IpAddr = "198.51.100.2".parse().unwrap();
        assert_eq!(caps.admit(a), Ok(()));
        assert_eq!(caps.admit(a), Ok(()));
        assert_eq!(caps.admit(a), Err(ConnectionRefusal::PerSource));
        assert_eq!(caps.admit(b), Ok(()));
        caps.closed(a);
        assert_eq!(caps.admit(a), Ok(()));
        assert_eq!(caps.open(), 3);
    }

    #[test]
    fn the_total_cap_holds_for_all_but_trusted_sources() {
        let mut caps = caps(2, 5);
        assert_eq!(caps.admit("198.51.100.1".parse().unwrap()), Ok(()));
        assert_eq!(caps.admit("198.51.100.2".parse().unwrap()), Ok(()));
        assert_eq!(
            caps.admit("198.51.100.3".parse().unwrap()),
            Err(ConnectionRefusal::Total)
        );
        let trunk: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..10 {
            assert_eq!(caps.admit(trunk), Ok(()));
        }
        assert_eq!(caps.open(), 12);
    }
}

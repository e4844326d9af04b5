//! The `[limits]` settings: what one SIP source may cost, and the TCP caps.

use std::net::IpAddr;
use std::time::Duration;

use serde::Deserialize;

/// Per-source limits on SIP and the caps on TCP connections.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitSettings {
    /// Sources never limited: the trunk, a proxy in front (addresses or CIDRs).
    pub trusted: Vec<SourceRange>,
    /// SIP messages one source may send per second, on average.
    pub requests_per_second: f64,
    /// Messages one source may send at once above that rate.
    pub burst: u32,
    /// Messages over the rate answered 503 (or dropped when they need no
    /// answer) per second and source; beyond that the source gets silence.
    pub rejections_per_second: f64,
    /// Calls one source may have in progress at once.
    pub calls_per_source: u32,
    /// Sources tracked at once; the sources beyond share one allowance.
    pub max_sources: usize,
    /// One log line per limited source per this many seconds.
    pub log_interval_seconds: u64,
    /// TCP connections open at once, in all.
    pub tcp_max_connections: usize,
    /// TCP connections one source may have open at once.
    pub tcp_connections_per_source: usize,
    /// A TCP connection with no traffic either way for this long is closed;
    /// trusted sources are exempt.
    pub tcp_idle_seconds: u64,
    /// A TCP connection must deliver its first complete message this soon
    /// after accept, and finish any message it begins as soon.
    pub tcp_first_message_seconds: u64,
}

impl Default for LimitSettings {
    fn default() -> Self {
        LimitSettings {
            trusted: Vec::new(),
            requests_per_second: 50.0,
            burst: 100,
            rejections_per_second: 5.0,
            calls_per_source: 50,
            max_sources: 10_000,
            log_interval_seconds: 10,
            tcp_max_connections: 1024,
            tcp_connections_per_source: 32,
            tcp_idle_seconds: 300,
            tcp_first_message_seconds: 10,
        }
    }
}

impl LimitSettings {
    /// Whether `ip` is a trusted source.
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|range| range.contains(ip))
    }

    /// The idle timeout of TCP connections.
    pub fn tcp_idle(&self) -> Duration {
        Duration::from_secs(self.tcp_idle_seconds)
    }

    /// The deadline for a TCP connection's first complete message.
    pub fn tcp_first_message(&self) -> Duration {
        Duration::from_secs(self.tcp_first_message_seconds)
    }

    /// Checks values that parse but cannot work; names the setting at fault.
    pub fn problem(&self) -> Option<(&'static str, &'static str)> {
        let positive = |value: f64| value.is_finite() && value > 0.0;
        if !positive(self.requests_per_second) {
            return Some(("limits.requests_per_second", "must be above 0"));
        }
        if !self.rejections_per_second.is_finite() || self.rejections_per_second < 0.0 {
            return Some(("limits.rejections_per_second", "must be 0 or more"));
        }
        if self.burst == 0 {
            return Some(("limits.burst", "must be at least 1"));
        }
        if self.calls_per_source == 0 {
            return Some(("limits.calls_per_source", "must be at least 1"));
        }
        if self.max_sources == 0 {
            return Some(("limits.max_sources", "must be at least 1"));
        }
        if self.log_interval_seconds == 0 {
            return Some(("limits.log_interval_seconds", "must be at least 1"));
        }
        if self.tcp_max_connections == 0 || self.tcp_connections_per_source == 0 {
            return Some(("limits.tcp_max_connections", "TCP caps must be at least 1"));
        }
        if self.tcp_idle_seconds == 0 || self.tcp_first_message_seconds == 0 {
            return Some((
                "limits.tcp_idle_seconds",
                "TCP timeouts must be at least 1 s",
            ));
        }
        None
    }
}

/// An address or a CIDR block, e.g. `192.0.2.10` or `10.0.0.0/8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceRange {
    network: IpAddr,
    prefix: u8,
}

impl SourceRange {
    /// Whether `ip` lies in the range (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                mask(u32::from(net).into(), 32, self.prefix)
                    == mask(u32::from(ip).into(), 32, self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                mask(u128::from(net), 128, self.prefix) == mask(u128::from(ip), 128, self.prefix)
            }
            _ => false,
        }
    }
}

impl std::str::FromStr for SourceRange {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address
            .trim()
            .parse()
            .map_err(|_| format!("`{text}` is not an address or CIDR such as 10.0.0.0/8"))?;
        let network = canonical(network);
        let width = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) => prefix
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= width)
                .ok_or_else(|| format!("`{text}`: the prefix must be 0 to {width}"))?,
            None => width,
        };
        Ok(SourceRange { network, prefix })
    }
}

impl<'de> Deserialize<'de> for SourceRange {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// IPv4-mapped IPv6 addresses (a dual-stack socket's view of IPv4) as IPv4.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// The top `prefix` bits of a `width`-bit address.
fn mask(bits: u128, width: u8, prefix: u8) -> u128 {
    if prefix == 0 {
        return 0;
    }
    let shift = u32::from(width - prefix);
    (bits >> shift) << shift
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_ranges_match_addresses_and_cidrs() {
        let settings = LimitSettings {
            trusted: vec!["10.0.0.0/8".parse().unwrap(), "192.0.2.7".parse().unwrap()],
            ..LimitSettings::default()
        };
        assert!(settings.is_trusted("10.200.3.4".parse().unwrap()));
        assert!(settings.is_trusted("192.0.2.7".parse().unwrap()));
        assert!(settings.is_trusted("::ffff:10.1.1.1".parse().unwrap()));
        assert!(!settings.is_trusted("192.0.2.8".parse().unwrap()));
        assert!(!settings.is_trusted("11.0.0.1".parse().unwrap()));
        let v6: SourceRange = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains("2001:db8:1::5".parse().unwrap()));
        assert!(!v6.contains("2001:db9::5".parse().unwrap()));
        assert!(
            "0.0.0.0/0"
                .parse::<SourceRange>()
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
    }

    #[test]
    fn malformed_ranges_are_refused() {
        assert!("10.0.0.0/33".parse::<SourceRange>().is_err());
        assert!("example.com".parse::<SourceRange>().is_err());
        assert!("10.0.0.0/x".parse::<SourceRange>().is_err());
    }
}

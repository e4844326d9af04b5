//! The pool of RTP ports calls bind in turn.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};

use tokio::net::UdpSocket;

/// Hands out even UDP ports from the configured range (RTP even, RTCP next);
/// clones share one cursor, so callers' and agents' legs take turns.
#[derive(Clone)]
pub struct PortPool {
    address: IpAddr,
    min: u16,
    max: u16,
    cursor: Arc<AtomicU16>,
}

impl PortPool {
    /// A pool over `min..=max` on `address`.
    pub fn new(address: IpAddr, min: u16, max: u16) -> PortPool {
        let min = min + min % 2;
        PortPool {
            address,
            min,
            max: max.max(min),
            cursor: Arc::new(AtomicU16::new(0)),
        }
    }

    /// Binds the next free even port, trying each at most once.
    pub async fn bind(&self) -> Result<UdpSocket, PortError> {
        let slots = (self.max - self.min) / 2 + 1;
        for _ in 0..slots {
            let slot = self.cursor.fetch_add(1, Ordering::Relaxed) % slots;
            let port = self.min + slot * 2;
            match UdpSocket::bind(SocketAddr::new(self.address, port)).await {
                Ok(socket) => return Ok(socket),
                // Every other port would fail the same way: no socket can be made at all.
                Err(error) if crate::server::limits::out_of_descriptors(&error) => {
                    return Err(PortError::NoDescriptor);
                }
                Err(_) => {}
            }
        }
        Err(PortError::RangeFull)
    }
}

/// Why no RTP port could be had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    #[error("no RTP port free in the configured range")]
    RangeFull,
    #[error("the process has no file descriptor left for an RTP socket (the open-file limit)")]
    NoDescriptor,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ports_are_even_and_a_taken_port_is_skipped() {
        let blocker = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let taken = blocker.local_addr().unwrap().port() & !1;
        let _ = std::net::UdpSocket::bind(("127.0.0.1", taken));
        let pool = PortPool::new("127.0.0.1".parse().unwrap(), taken, taken + 4);
        let first = pool.bind().await.unwrap().local_addr().unwrap().port();
        assert_eq!(first % 2, 0);
        let second = pool.bind().await.unwrap().local_addr().unwrap().port();
        assert_ne!(first, second);
    }
}

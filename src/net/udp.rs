//! Reading what arrived on a leg's socket in one system call.
//!
//! A leg's socket is read once per frame, and usually holds one datagram. A
//! loop of `recv_from` costs two system calls for it (the datagram, then the
//! one that finds the socket empty); `recvmmsg(2)` with `MSG_DONTWAIT` returns
//! every datagram waiting, up to the batch size, in one. Neither std, tokio
//! nor socket2 offers `recvmmsg`, hence this thin wrapper over libc.

use std::io;
use std::net::{SocketAddr, UdpSocket};

/// Datagrams read per system call by a media worker (the WebRTC driver,
/// whose one socket serves every browser, reads more at a time).
const BATCH: usize = 4;
/// Large enough for any RTP or RTCP datagram we accept.
const DATAGRAM_SIZE: usize = 1500;

/// Receive buffers for one batch of `N`, owned by a worker and shared by its legs.
pub(crate) struct Datagrams<const N: usize = BATCH> {
    buffers: Box<[[u8; DATAGRAM_SIZE]; N]>,
    lengths: [usize; N],
    sources: [SocketAddr; N],
}

impl<const N: usize> Datagrams<N> {
    pub(crate) fn new() -> Datagrams<N> {
        Datagrams {
            buffers: Box::new([[0; DATAGRAM_SIZE]; N]),
            lengths: [0; N],
            sources: [SocketAddr::from(([0, 0, 0, 0], 0)); N],
        }
    }

    /// How many datagrams one read can return.
    pub(crate) fn capacity(&self) -> usize {
        N
    }

    /// Datagram `i` of the last read: its source and contents.
    pub(crate) fn get(&self, i: usize) -> (SocketAddr, &[u8]) {
        (self.sources[i], &self.buffers[i][..self.lengths[i]])
    }
}

/// Reads the datagrams waiting on a non-blocking socket into `datagrams`;
/// 0 when there are none.
#[cfg(target_os = "linux")]
pub(crate) fn receive_batch<const N: usize>(
    socket: &UdpSocket,
    datagrams: &mut Datagrams<N>,
) -> io::Result<usize> {
    use std::os::fd::AsRawFd;

    // SAFETY: all-zero is a valid value for these plain C structs.
    let mut addresses: [libc::sockaddr_storage; N] = unsafe { std::mem::zeroed() };
    let mut iovecs: [libc::iovec; N] = unsafe { std::mem::zeroed() };
    for (iovec, buffer) in iovecs.iter_mut().zip(datagrams.buffers.iter_mut()) {
        iovec.iov_base = buffer.as_mut_ptr().cast();
        iovec.iov_len = DATAGRAM_SIZE;
    }
    let room = [std::mem::size_of::<libc::sockaddr_storage>() as u32; N];
    let mut headers = message_headers(&mut iovecs, &mut addresses, room);
    // SAFETY: every header points at a live buffer and address of the sizes
    // given, all of which outlive the call.
    let count = unsafe {
        libc::recvmmsg(
            socket.as_raw_fd(),
            headers.as_mut_ptr(),
            N as u32,
            libc::MSG_DONTWAIT,
            std::ptr::null_mut(),
        )
    };
    if count < 0 {
        let error = io::Error::last_os_error();
        return match error.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(0),
            _ => Err(error),
        };
    }
    let mut kept = 0;
    for i in 0..count as usize {
        // A datagram from an address family we do not speak is skipped.
        let Some(source) = socket_addr(&addresses[i]) else {
            continue;
        };
        datagrams.lengths[kept] = (headers[i].msg_len as usize).min(DATAGRAM_SIZE);
        datagrams.sources[kept] = source;
        if kept != i {
            let (front, back) = datagrams.buffers.split_at_mut(i);
            front[kept][..datagrams.lengths[kept]]
                .copy_from_slice(&back[0][..datagrams.lengths[kept]]);
        }
        kept += 1;
    }
    Ok(kept)
}

/// One `recvmmsg`/`sendmmsg` header per buffer and address, each address
/// `address_lengths` long.
#[cfg(target_os = "linux")]
pub(crate) fn message_headers<const N: usize>(
    iovecs: &mut [libc::iovec; N],
    addresses: &mut [libc::sockaddr_storage; N],
    address_lengths: [u32; N],
) -> [libc::mmsghdr; N] {
    // SAFETY: all-zero is a valid value for this plain C struct.
    let mut headers: [libc::mmsghdr; N] = unsafe { std::mem::zeroed() };
    for (i, header) in headers.iter_mut().enumerate() {
        header.msg_hdr.msg_name = (&mut addresses[i] as *mut libc::sockaddr_storage).cast();
        header.msg_hdr.msg_namelen = address_lengths[i];
        header.msg_hdr.msg_iov = &mut iovecs[i];
        header.msg_hdr.msg_iovlen = 1;
    }
    headers
}

#[cfg(target_os = "linux")]
fn socket_addr(address: &libc::sockaddr_storage) -> Option<SocketAddr> {
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV6};
    match i32::from(address.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in.
            let v4 =
                unsafe { &*(address as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            Some(SocketAddr::from((
                Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr)),
                u16::from_be(v4.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            let v6 = unsafe {
                &*(address as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(v6.sin6_addr.s6_addr),
                u16::from_be(v6.sin6_port),
                v6.sin6_flowinfo,
                v6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// Elsewhere, one `recv_from` per datagram.
#[cfg(not(target_os = "linux"))]
pub(crate) fn receive_batch<const N: usize>(
    socket: &UdpSocket,
    datagrams: &mut Datagrams<N>,
) -> io::Result<usize> {
    let mut count = 0;
    while count < N {
        match socket.recv_from(&mut datagrams.buffers[count]) {
            Ok((n, from)) => {
                datagrams.lengths[count] = n.min(DATAGRAM_SIZE);
                datagrams.sources[count] = from;
                count += 1;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if count == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_returns_every_waiting_datagram_with_its_source_then_nothing() {
        let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
        receiver.set_nonblocking(true).unwrap();
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut datagrams = Datagrams::<BATCH>::new();
        assert_eq!(receive_batch(&receiver, &mut datagrams).unwrap(), 0);
        for i in 0..6u8 {
            sender
                .send_to(
                    &[i; 3][..usize::from(i % 3) + 1],
                    receiver.local_addr().unwrap(),
                )
                .unwrap();
        }
        // Loopback delivery is synchronous, but give it a moment anyway.
        std::thread::sleep(std::time::Duration::from_millis(10));
        let mut seen = Vec::new();
        loop {
            let count = receive_batch(&receiver, &mut datagrams).unwrap();
            if count == 0 {
                break;
            }
            for i in 0..count {
                let (from, bytes) = datagrams.get(i);
                assert_eq!(from, sender.local_addr().unwrap());
                seen.push(bytes.to_vec());
            }
        }
        let expected: Vec<Vec<u8>> = (0..6u8).map(|i| vec![i; usize::from(i % 3) + 1]).collect();
        assert_eq!(seen, expected);
    }

    #[test]
    fn ipv6_sources_are_read() {
        let Ok(receiver) = UdpSocket::bind("[::1]:0") else {
            return; // no IPv6 loopback on this machine
        };
        receiver.set_nonblocking(true).unwrap();
        let sender = UdpSocket::bind("[::1]:0").unwrap();
        sender
            .send_to(b"rtp", receiver.local_addr().unwrap())
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(10));
        let mut datagrams = Datagrams::<BATCH>::new();
        assert_eq!(receive_batch(&receiver, &mut datagrams).unwrap(), 1);
        assert_eq!(
            datagrams.get(0),
            (sender.local_addr().unwrap(), &b"rtp"[..])
        );
    }
}

//! Sending the WebRTC socket's datagrams in batches (`sendmmsg`): one system
//! call sends a round's datagrams to many browsers, where a `send_to` each
//! would cost a call per 20 ms frame and per peer. (Reading in batches is the
//! media workers' `recvmmsg`, `net::udp::receive_batch`.)

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{SocketAddr, UdpSocket};

use super::peer::Transmit;

/// Datagrams moved by one system call at most.
pub(super) const BATCH: usize = 32;

/// Sends the first datagrams of `out`, up to [`BATCH`], on a non-blocking
/// socket: how many went, or `WouldBlock` when its buffer is full. An error
/// is the first datagram's (the kernel stops at a failing one).
#[cfg(target_os = "linux")]
pub(super) fn try_send(socket: &UdpSocket, out: &[Transmit]) -> io::Result<usize> {
    use crate::net::udp::message_headers;
    use std::os::fd::AsRawFd;

    let out = &out[..out.len().min(BATCH)];
    // SAFETY: all-zero is a valid value of these plain C structs.
    let mut destinations: [libc::sockaddr_storage; BATCH] = unsafe { zeroed() };
    let mut iovecs: [libc::iovec; BATCH] = unsafe { zeroed() };
    let mut lengths = [0u32; BATCH];
    for (i, transmit) in out.iter().enumerate() {
        iovecs[i].iov_base = transmit.contents.as_ptr() as *mut libc::c_void;
        iovecs[i].iov_len = transmit.contents.len();
        lengths[i] = write_address(transmit.destination, &mut destinations[i]);
    }
    let mut headers = message_headers(&mut iovecs, &mut destinations, lengths);
    // SAFETY: every header points at a live datagram and address of the
    // sizes it states; the kernel only reads them.
    let sent = unsafe {
        libc::sendmmsg(
            socket.as_raw_fd(),
            headers.as_mut_ptr(),
            out.len() as u32,
            libc::MSG_DONTWAIT,
        )
    };
    if sent < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(sent as usize)
    }
}

/// Elsewhere, one `send_to` per datagram.
#[cfg(not(target_os = "linux"))]
pub(super) fn try_send(socket: &UdpSocket, out: &[Transmit]) -> io::Result<usize> {
    for (sent, transmit) in out.iter().take(BATCH).enumerate() {
        if let Err(e) = socket.send_to(&transmit.contents, transmit.destination) {
            return if sent == 0 { Err(e) } else { Ok(sent) };
        }
    }
    Ok(out.len().min(BATCH))
}

/// Writes `address` into a C socket address; its length.
#[cfg(target_os = "linux")]
fn write_address(address: SocketAddr, storage: &mut libc::sockaddr_storage) -> u32 {
    match address {
        SocketAddr::V4(v4) => {
            // SAFETY: sockaddr_storage is large and aligned enough for any address.
            let c = unsafe {
                &mut *(storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>()
            };
            c.sin_family = libc::AF_INET as libc::sa_family_t;
            c.sin_port = v4.port().to_be();
            c.sin_addr.s_addr = u32::from(*v4.ip()).to_be();
            size_of::<libc::sockaddr_in>() as u32
        }
        SocketAddr::V6(v6) => {
            // SAFETY: as above.
            let c = unsafe {
                &mut *(storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            c.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            c.sin6_port = v6.port().to_be();
            c.sin6_addr.s6_addr = v6.ip().octets();
            c.sin6_flowinfo = v6.flowinfo();
            c.sin6_scope_id = v6.scope_id();
            size_of::<libc::sockaddr_in6>() as u32
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datagrams_sent_in_batches_arrive_whole_with_their_source_in_order() {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        b.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let out: Vec<Transmit> = (0..40u8)
            .map(|i| Transmit {
                destination: b.local_addr().unwrap(),
                contents: vec![i; 100 + usize::from(i)],
            })
            .collect();
        let mut sent = 0;
        while sent < out.len() {
            sent += try_send(&a, &out[sent..]).unwrap();
        }
        let mut buffer = [0u8; 512];
        for transmit in &out {
            let (len, source) = b.recv_from(&mut buffer).unwrap();
            assert_eq!(source, a.local_addr().unwrap());
            assert_eq!(&buffer[..len], &transmit.contents[..]);
        }
    }
}

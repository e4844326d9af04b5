//! What the media workers and the WebRTC driver share below them: datagrams
//! read and written in batches (`recvmmsg`), and real-time scheduling for
//! the threads that keep audio on time.

pub mod realtime;
pub(crate) mod udp;

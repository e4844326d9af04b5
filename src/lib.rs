//! hotline: a telephony IVR and call-routing engine.
//!
//! Protocol cores (`sip`, `rtp`, `dtmf`, `flow`, `queue`) do no I/O and take time as an
//! argument; `server` is the thin async shell that drives them (its media workers and
//! the `webrtc` driver share `net`: batched datagram I/O, real-time threads), `call`
//! runs calls over it, `api` serves the admin HTTP API, `app` builds them all in order for
//! `hotline serve`, and `cli` holds the other commands. No module imports one
//! that imports it back (`tests/module_cycles.rs` checks).

pub mod api;
pub mod app;
pub mod call;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod crm;
pub mod dtmf;
pub mod flow;
pub mod fuzz;
pub mod metrics;
pub mod net;
pub mod queue;
pub mod registrar;
pub mod report;
pub mod rtp;
pub mod say;
pub mod server;
pub mod sip;
pub mod webrtc;

//! The commands beside `serve`, one file each: what `hotline flows`, `tickets`,
//! `agents`, `calls`, `db`, `crm` and `tokens` do for admins and scripts.
//!
//! They sit above the rest of the crate (a command may open the database, read
//! the configuration or call the admin API), so that no module below has to
//! know about them.

pub mod agents;
pub mod calls;
pub mod crm;
pub mod db;
pub mod flows;
pub mod tickets;
pub mod tokens;

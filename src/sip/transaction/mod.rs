//! SIP transactions (RFC 3261 §17) as sans-IO state machines.

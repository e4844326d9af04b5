//! Feeds arbitrary text to the flow compiler: a flow file either compiles or
//! gives located diagnostics, never a panic.
//!
//! The property is [`hotline::fuzz::compile_flow`], which `cargo test` also runs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| hotline::fuzz::compile_flow(data));

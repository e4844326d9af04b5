//! Feeds arbitrary text to the flow compiler: a flow file either compiles or
//! gives located diagnostics, never a panic.
#![no_main]

use std::path::Path;

use hotline::flow::{AudioDir, Catalog, compile};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    let catalog = Catalog {
        lookups: ["balance".to_owned()].into(),
        ticket_types: [("line_repair".to_owned(), ["phone".to_owned()].into())].into(),
        queues: ["support".to_owned()].into(),
    };
    let _ = compile(
        source,
        Path::new("fuzz.yaml"),
        &catalog,
        &AudioDir::default(),
    );
});

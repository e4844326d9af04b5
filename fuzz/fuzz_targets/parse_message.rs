//! Feeds arbitrary bytes to the SIP parser, the 400 builder and the TCP framer:
//! none may panic, and whatever parses must survive a serialize/parse round trip.
#![no_main]

use hotline::sip::framing::StreamFramer;
use hotline::sip::{bad_request_for, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match parse(data) {
        Ok(message) => {
            // The serializer is the parser's inverse on everything the parser accepts.
            let again = parse(&message.to_bytes()).expect("a serialized message parses");
            assert_eq!(again, message);
        }
        Err(error) => {
            let _ = bad_request_for(data, &error);
        }
    }
    let mut framer = StreamFramer::new();
    framer.push(data);
    while let Some(Ok(frame)) = framer.next_message() {
        let _ = parse(&frame);
    }
});

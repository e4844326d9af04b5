//! A short fuzz run on the stable toolchain: each fuzz target's property
//! (`hotline::fuzz`) over its seed corpus in `fuzz/corpus/<target>/` and over
//! mutations of the seeds drawn from a fixed seed, so `cargo test` catches a
//! regression the same way every time without libFuzzer's nightly build.
//! libFuzzer's coverage-guided runs (`scripts/fuzz`) go much further.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

/// Byte strings the parsers give meaning to, inserted whole by the mutator.
const TOKENS: &[&[u8]] = &[
    b"\r\n",
    b"\r\n\r\n",
    b"\n",
    b" ",
    b": ",
    b";",
    b",",
    b"=",
    b"\"",
    b"\\",
    b"<",
    b">",
    b"@",
    b"sip:",
    b"SIP/2.0",
    b"Content-Length: ",
    b"18446744073709551616",
    b"-1",
    b"0",
    b"\xff\xff\xff\xff",
    b"\x80\x00\x00\x00",
    b"m=audio 0 RTP/AVP 0",
    b"a=rtpmap:101 telephone-event/8000",
    b"username=",
    b"nonce=",
    b"- ",
    b": {",
    b"[",
    b"*",
];

#[test]
fn sip_messages_never_panic_and_round_trip() {
    holds("parse_message", 30_000);
}

#[test]
fn sdp_offers_never_panic_and_our_answers_parse() {
    holds("parse_sdp", 100_000);
}

#[test]
fn rtp_packets_never_panic_and_payloads_lie_inside() {
    holds("parse_rtp", 300_000);
}

#[test]
fn accepted_digest_credentials_name_a_user() {
    holds("parse_credentials", 200_000);
}

#[test]
fn digest_challenges_never_panic() {
    holds("parse_challenge", 200_000);
}

#[test]
fn flow_files_compile_or_give_diagnostics() {
    holds("compile_flow", 2_000);
}

/// Runs `target`'s property on each of its seeds, then on `mutants` inputs
/// made from them; a failure names the input so it can be made a seed.
fn holds(target: &str, mutants: usize) {
    let (_, property) = hotline::fuzz::TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .expect("a fuzz target of that name");
    let seeds = seeds(target);
    assert!(!seeds.is_empty(), "no seeds for {target}");
    let check = |what: &str, data: &[u8]| {
        if catch_unwind(AssertUnwindSafe(|| property(data))).is_err() {
            panic!(
                "{target} failed on {what}: b\"{}\" (add it to fuzz/corpus/{target}/ and a unit test)",
                data.escape_ascii()
            );
        }
    };
    for (path, seed) in &seeds {
        check(&format!("seed {}", path.display()), seed);
    }
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let all: Vec<&[u8]> = seeds.iter().map(|(_, s)| s.as_slice()).collect();
    for n in 0..mutants {
        let (path, seed) = &seeds[n % seeds.len()];
        let mutant = mutate(&mut rng, seed, &all);
        check(&format!("mutant {n} of {}", path.display()), &mutant);
    }
}

/// The target's seed files, in name order.
fn seeds(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut seeds: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("corpus entry").path();
            let bytes = std::fs::read(&path).expect("seed file");
            (path, bytes)
        })
        .collect();
    seeds.sort();
    seeds
}

/// One to four of libFuzzer's kinds of change: bit flips, byte changes,
/// insertions of random bytes or of [`TOKENS`], deletions, duplications, and
/// splices with another seed.
fn mutate(rng: &mut XorShift, seed: &[u8], seeds: &[&[u8]]) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(data.len() + 1);
        match rng.below(7) {
            0 if at < data.len() => data[at] ^= 1 << rng.below(8),
            1 if at < data.len() => data[at] = rng.next() as u8,
            2 => {
                let bytes: Vec<u8> = (0..=rng.below(8)).map(|_| rng.next() as u8).collect();
                data.splice(at..at, bytes);
            }
            3 => {
                let token = TOKENS[rng.below(TOKENS.len())];
                data.splice(at..at, token.iter().copied());
            }
            4 => {
                let end = (at + 1 + rng.below(16)).min(data.len());
                data.drain(at.min(end)..end);
            }
            5 => {
                let end = (at + 1 + rng.below(64)).min(data.len());
                let copy = data[at.min(end)..end].to_vec();
                let to = rng.below(data.len() + 1);
                data.splice(to..to, copy);
            }
            _ => {
                let other = seeds[rng.below(seeds.len())];
                let from = rng.below(other.len() + 1);
                data.truncate(at);
                data.extend_from_slice(&other[from..]);
            }
        }
    }
    data
}

/// Marsaglia's xorshift64: a fixed, dependency-free stream of numbers.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n` (which must not be zero).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

//! Fuzzes the HTTP/1 framing follower (the request head parser and validator): any bytes, fed
//! in any split, never panic it, the split never changes the verdict, and it never reports a
//! request it has not reached.
#![no_main]

use libfuzzer_sys::fuzz_target;
use proxy::security::framing::{Follower, HeadLimits};

const LIMITS: HeadLimits = HeadLimits {
    max_head_bytes: 8192,
    max_headers: 100,
};

fuzz_target!(|data: &[u8]| {
    // The first byte picks where the stream is split into two reads.
    let Some((&cut, stream)) = data.split_first() else {
        return;
    };
    let whole = Follower::new(LIMITS).feed(stream);
    let mut split = Follower::new(LIMITS);
    let at = usize::from(cut).min(stream.len());
    let first = split.feed(&stream[..at]);
    let verdict = first.or_else(|| split.feed(&stream[at..]));
    assert_eq!(whole, verdict, "the read split changed the verdict");
    if let Some((request, _)) = verdict {
        assert!(request <= split.completed());
    }
});

use super::*;
use proptest::prelude::*;

const LIMITS: HeadLimits = HeadLimits {
    max_head_bytes: 8192,
    max_headers: 100,
};

/// Feeds `bytes` whole; the first violation, if any.
fn verdict(bytes: &[u8]) -> Option<(u64, Violation)> {
    Follower::new(LIMITS).feed(bytes)
}

fn bad(head: &str) -> Violation {
    verdict(head.as_bytes())
        .unwrap_or_else(|| panic!("accepted: {head:?}"))
        .1
}

#[test]
fn well_formed_requests_pass_and_are_counted() {
    let mut f = Follower::new(LIMITS);
    let stream = b"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n\
        POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello\
        POST /y HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n\
        5;ext=1\r\nhello\r\n0\r\nx-sum: 1\r\n\r\n\
        GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nX: \tv\xff \r\n\r\n";
    assert_eq!(f.feed(stream), None);
    assert_eq!(f.completed(), 4);
    assert!(f.is_idle());
}

#[test]
fn every_ambiguous_framing_class_is_refused() {
    use Violation::*;
    let h = "POST / HTTP/1.1\r\nHost: a\r\n";
    let cases = [
        (
            "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            ContentLengthAndChunked,
        ),
        (
            "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
            ContentLengthAndChunked,
        ),
        ("Transfer-Encoding: Chunked\r\n\r\n", BadTransferEncoding),
        (
            "Transfer-Encoding: chunked, identity\r\n\r\n",
            BadTransferEncoding,
        ),
        (
            "Transfer-Encoding: identity, chunked\r\n\r\n",
            BadTransferEncoding,
        ),
        (
            "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            BadTransferEncoding,
        ),
        ("Transfer-Encoding: xchunked\r\n\r\n", BadTransferEncoding),
        ("Transfer-Encoding : chunked\r\n\r\n", SpaceBeforeColon),
        ("Transfer-Encoding\t: chunked\r\n\r\n", SpaceBeforeColon),
        ("Transfer-Encoding: \x0bchunked\r\n\r\n", ControlChar),
        (
            "Content-Length: 5\r\nContent-Length: 5\r\n\r\n",
            DuplicateContentLength,
        ),
        ("Content-Length: 5, 5\r\n\r\n", BadContentLength),
        ("Content-Length: 007\r\n\r\n", BadContentLength),
        ("Content-Length: +5\r\n\r\n", BadContentLength),
        ("Content-Length: 0x5\r\n\r\n", BadContentLength),
        ("Content-Length: \r\n\r\n", BadContentLength),
        (
            "Content-Length: 99999999999999999999999\r\n\r\n",
            BadContentLength,
        ),
        ("X: a\r\n b\r\n\r\n", ObsFold),
        ("X: a\n\r\n", BareLineEnd),
        ("X: a\rb\r\n\r\n", BareLineEnd),
        ("X: a\x00b\r\n\r\n", ControlChar),
        ("X: a\x7fb\r\n\r\n", ControlChar),
        ("X(y): a\r\n\r\n", BadFieldName),
        (": a\r\n\r\n", BadFieldName),
        ("\r\r\n", BareLineEnd),
    ];
    for (rest, want) in cases {
        let text = format!("{h}{rest}");
        assert_eq!(bad(&text), want, "{text:?}");
    }
    assert_eq!(bad("GET / HTTP/1.1\nHost: a\r\n\r\n"), BareLineEnd);
    assert_eq!(bad("G(T / HTTP/1.1\r\nHost: a\r\n\r\n"), BadRequestLine);
    assert_eq!(bad("GET /\x01 HTTP/1.1\r\n\r\n"), ControlChar);
}

#[test]
fn malformed_chunks_are_refused() {
    use Violation::*;
    let h = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    let cases = [
        ("g\r\n", BadChunk),
        ("\r\n", BadChunk),
        ("5 \r\nhello\r\n0\r\n\r\n", BadChunk),
        ("5\nhello\r\n0\r\n\r\n", BadChunk),
        ("5\r\nhelloX\r\n", BadChunk),
        ("5\r\nhello\n0\r\n\r\n", BadChunk),
        ("fffffffffffffffffff\r\n", ChunkTooLarge),
        ("0\r\nx y\r\n\r\n", BadTrailer),
        ("0\r\n folded\r\n\r\n", ObsFold),
        ("0\r\n\n", BareLineEnd),
    ];
    for (body, want) in cases {
        let text = format!("{h}{body}");
        assert_eq!(bad(&text), want, "{text:?}");
    }
}

#[test]
fn the_violation_names_the_request_it_is_in() {
    let ok = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    let smuggled = "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n";
    let stream = format!("{ok}{ok}{smuggled}{ok}");
    assert_eq!(
        verdict(stream.as_bytes()),
        Some((2, Violation::DuplicateContentLength))
    );
}

#[test]
fn the_h2_preface_and_an_upgrade_turn_it_off() {
    let mut f = Follower::new(LIMITS);
    assert_eq!(
        f.feed(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04\x00"),
        None
    );
    assert!(f.is_off());
    let mut f = Follower::new(LIMITS);
    assert_eq!(f.feed(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"), None);
    f.stop();
    assert_eq!(f.feed(b"\x00\xff anything\n"), None);
}

#[test]
fn names_longer_than_the_kept_prefix_are_followed_across_reads() {
    let head = b"POST / HTTP/1.1\r\nX-A-Header-Name-Well-Past-The-Kept-Prefix: 1\r\n\
        Content-Length-And-Then-Some: 9\r\nContent-Length: 2\r\n\r\nhi";
    for cut in 0..head.len() {
        let mut f = Follower::new(LIMITS);
        assert_eq!(f.feed(&head[..cut]), None, "cut at {cut}");
        assert_eq!(f.feed(&head[cut..]), None, "cut at {cut}");
        assert!(f.is_idle() && f.completed() == 1, "cut at {cut}");
    }
}

#[test]
fn head_limits_are_enforced() {
    let limits = HeadLimits {
        max_head_bytes: 64,
        max_headers: 2,
    };
    let long = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(64));
    assert_eq!(
        Follower::new(limits).feed(long.as_bytes()),
        Some((0, Violation::HeadTooLarge))
    );
    let many = "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    assert_eq!(
        Follower::new(limits).feed(many.as_bytes()),
        Some((0, Violation::TooManyHeaders))
    );
    // The limit is per head: a body and later heads start afresh.
    let two = "GET / HTTP/1.1\r\nA: 1\r\n\r\nGET / HTTP/1.1\r\nA: 1\r\n\r\n";
    assert_eq!(Follower::new(limits).feed(two.as_bytes()), None);
}

#[test]
fn the_verdict_refuses_the_bad_request_and_every_later_one() {
    let v = Verdict::default();
    assert_eq!(v.refuses(0), None);
    v.record(2, Violation::ObsFold);
    v.record(1, Violation::BadChunk); // only the first counts
    assert_eq!(v.refuses(1), None);
    assert_eq!(v.refuses(2), Some(Violation::ObsFold));
    assert_eq!(v.refuses(7), Some(Violation::ObsFold));
    assert!(v.mark_answered());
    assert!(!v.mark_answered());
}

/// A well-formed request and the number of body bytes it frames.
fn request() -> impl Strategy<Value = Vec<u8>> {
    let method = prop::sample::select(vec!["GET", "POST", "PUT", "DELETE", "PATCH"]);
    let path = "/[a-z0-9._~%-]{0,20}";
    let header = ("[A-Za-z][A-Za-z0-9-]{0,29}", "[ -~]{0,30}").prop_filter(
        "not a framing header",
        |(n, _)| {
            let n = n.to_ascii_lowercase();
            n != "content-length" && n != "transfer-encoding"
        },
    );
    let body = prop_oneof![
        Just(None),
        prop::collection::vec(any::<u8>(), 0..100).prop_map(|b| Some((false, b))),
        prop::collection::vec(any::<u8>(), 0..100).prop_map(|b| Some((true, b))),
    ];
    (
        method,
        path,
        prop::collection::vec(header, 0..6),
        body,
        1usize..20,
    )
        .prop_map(|(m, p, headers, body, chunk)| {
            let mut out = format!("{m} {p} HTTP/1.1\r\nHost: example.test\r\n").into_bytes();
            for (n, v) in headers {
                out.extend_from_slice(format!("{n}: {}\r\n", v.trim()).as_bytes());
            }
            match body {
                None => out.extend_from_slice(b"\r\n"),
                Some((false, b)) => {
                    out.extend_from_slice(
                        format!("Content-Length: {}\r\n\r\n", b.len()).as_bytes(),
                    );
                    out.extend_from_slice(&b);
                }
                Some((true, b)) => {
                    out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
                    for piece in b.chunks(chunk) {
                        out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
                        out.extend_from_slice(piece);
                        out.extend_from_slice(b"\r\n");
                    }
                    out.extend_from_slice(b"0\r\n\r\n");
                }
            }
            out
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Every well-formed pipeline is accepted, however the reads split it, and each request's
    /// framing ends where the generator's does.
    #[test]
    fn well_formed_pipelines_are_followed_exactly(
        reqs in prop::collection::vec(request(), 1..5),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let stream: Vec<u8> = reqs.concat();
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(stream.len() + 1)).collect();
        points.sort_unstable();
        let mut f = Follower::new(LIMITS);
        let mut at = 0;
        for p in points.into_iter().chain([stream.len()]) {
            prop_assert_eq!(f.feed(&stream[at..p]), None);
            at = p;
        }
        prop_assert_eq!(f.completed(), reqs.len() as u64);
        prop_assert!(f.is_idle());
        // Request boundaries: feeding one request at a time ends idle after each.
        let mut g = Follower::new(LIMITS);
        for (i, r) in reqs.iter().enumerate() {
            prop_assert_eq!(g.feed(r), None);
            prop_assert!(g.is_idle());
            prop_assert_eq!(g.completed(), i as u64 + 1);
        }
    }

    /// Arbitrary bytes never panic the follower, and it never reports a request it has not
    /// reached.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let mut f = Follower::new(LIMITS);
        if let Some((request, _)) = f.feed(&bytes) {
            prop_assert!(request <= f.completed());
            prop_assert!(f.is_off());
        }
    }

    /// Taking field values and request lines in bulk changes nothing: a valid pipeline with
    /// up to two bytes replaced, fed in pieces, gets the verdict, count and state that byte-at-
    /// a-time stepping gives, under a head limit that some heads reach.
    #[test]
    fn the_bulk_path_agrees_with_stepping_byte_by_byte(
        reqs in prop::collection::vec(request(), 1..4),
        edits in prop::collection::vec((any::<prop::sample::Index>(), prop_oneof![
            any::<u8>(),
            prop::sample::select(vec![b'\t', b'\r', b'\n', 0x7f, 0, b' ', b':', 0x80]),
        ]), 0..3),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
        max_head_bytes in 40usize..200,
    ) {
        let mut stream: Vec<u8> = reqs.concat();
        for (at, byte) in edits {
            let i = at.index(stream.len());
            stream[i] = byte;
        }
        let limits = HeadLimits { max_head_bytes, max_headers: 100 };
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(stream.len() + 1)).collect();
        points.sort_unstable();
        let (mut bulk, mut step) = (Follower::new(limits), Follower::new(limits));
        let mut at = 0;
        for p in points.into_iter().chain([stream.len()]) {
            let (a, b) = (bulk.feed(&stream[at..p]), step.feed_bytewise(&stream[at..p]));
            prop_assert_eq!(a, b);
            prop_assert_eq!(bulk.completed(), step.completed());
            prop_assert_eq!(bulk.is_idle(), step.is_idle());
            prop_assert_eq!(bulk.is_off(), step.is_off());
            prop_assert_eq!(bulk.in_head(), step.in_head());
            at = p;
        }
    }

    /// A valid request with one byte replaced is either still well-formed or refused; it
    /// never panics.
    #[test]
    fn mutated_requests_never_panic(req in request(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut bytes = req;
        let i = at.index(bytes.len());
        bytes[i] = byte;
        let _ = Follower::new(LIMITS).feed(&bytes);
    }
}

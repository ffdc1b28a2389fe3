//! Response decoding against hand-written byte streams, split at every boundary.

use proptest::prelude::*;

use super::response::{Decoder, Malformed, Progress};

/// What a decoded response amounted to.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    status: u16,
    bytes: u64,
    keep_alive: bool,
    group: Option<Vec<u8>>,
    /// Bytes left over after the response (the next response's, if pipelined).
    rest: usize,
}

/// Feeds `parts` one after another as separate reads, then EOF if still incomplete.
fn decode(parts: &[&[u8]], head_request: bool) -> Result<Seen, Malformed> {
    let mut d = Decoder::new(Some("x-backend-id"));
    d.start(head_request);
    let mut buf: Vec<u8> = Vec::new();
    let mut fed = 0;
    let mut done = false;
    for part in parts {
        buf.extend_from_slice(part);
        fed += 1;
        let (n, progress) = d.feed(&buf)?;
        buf.drain(..n);
        if progress == Progress::Done {
            done = true;
            break;
        }
    }
    if !done {
        d.eof()?;
    }
    let rest = buf.len() + parts[fed..].iter().map(|p| p.len()).sum::<usize>();
    Ok(Seen {
        status: d.status,
        bytes: d.bytes,
        keep_alive: d.keep_alive,
        group: d.has_group.then(|| d.group.clone()),
        rest,
    })
}

fn whole(msg: &[u8], head_request: bool) -> Result<Seen, Malformed> {
    decode(&[msg], head_request)
}

/// Every split into two reads gives the same result as one read.
fn check_splits(msg: &[u8], head_request: bool) -> Seen {
    let expected = whole(msg, head_request).unwrap();
    for i in 0..=msg.len() {
        let (a, b) = msg.split_at(i);
        assert_eq!(
            decode(&[a, b], head_request).unwrap(),
            expected,
            "split at {i}"
        );
    }
    expected
}

const CHUNKED: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Backend-Id: b1\r\n\r\n\
    5;ext=1;q=\"x\"\r\nhello\r\n1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nx-checksum: abc\r\n\r\n";

#[test]
fn content_length() {
    let msg = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nx-backend-id:  a \r\n\r\nhello";
    let seen = check_splits(msg, false);
    assert_eq!(seen.status, 200);
    assert_eq!(seen.bytes, 5);
    assert!(seen.keep_alive);
    assert_eq!(seen.group.as_deref(), Some(&b"a"[..]));
}

#[test]
fn chunked_with_extensions_and_trailers() {
    let seen = check_splits(CHUNKED, false);
    assert_eq!((seen.status, seen.bytes, seen.keep_alive), (200, 31, true));
    assert_eq!(seen.group.as_deref(), Some(&b"b1"[..]));
}

#[test]
fn informational_responses_are_skipped() {
    let msg = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n\
        HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok";
    let seen = check_splits(msg, false);
    assert_eq!((seen.status, seen.bytes), (201, 2));
}

#[test]
fn no_body_for_head_204_and_304() {
    let head = b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n";
    assert_eq!(check_splits(head, true).bytes, 0);
    let chunked_head = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
    assert_eq!(check_splits(chunked_head, true).bytes, 0);
    for status in [204, 304] {
        let msg = format!("HTTP/1.1 {status} X\r\ncontent-length: 7\r\n\r\n");
        let seen = check_splits(msg.as_bytes(), false);
        assert_eq!(
            (seen.status, seen.bytes, seen.keep_alive),
            (status, 0, true)
        );
    }
}

#[test]
fn connection_close_and_http10() {
    let msg = b"HTTP/1.1 200 OK\r\nConnection: Close\r\ncontent-length: 2\r\n\r\nok";
    assert!(!check_splits(msg, false).keep_alive);
    let msg = b"HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok";
    assert!(!check_splits(msg, false).keep_alive);
    let msg = b"HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ncontent-length: 2\r\n\r\nok";
    assert!(check_splits(msg, false).keep_alive);
}

#[test]
fn body_until_close() {
    let msg = b"HTTP/1.1 200 OK\r\n\r\nsome bytes";
    let seen = check_splits(msg, false);
    assert_eq!((seen.bytes, seen.keep_alive), (10, false));
}

#[test]
fn pipelined_bytes_are_left_unread() {
    let mut two = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok".to_vec();
    two.extend_from_slice(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n");
    assert_eq!(whole(&two, false).unwrap().rest, 45);
    let mut after_chunked = CHUNKED.to_vec();
    after_chunked.extend_from_slice(b"HTTP/1.1");
    assert_eq!(whole(&after_chunked, false).unwrap().rest, 8);
}

#[test]
fn malformed_is_an_error() {
    for bad in [
        &b"HTTP/1.1 2OO OK\r\n\r\n"[..],
        b"HTTX/1.1 200 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab",
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
    ] {
        assert!(
            whole(bad, false).is_err(),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn truncated_is_an_error() {
    let msg = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhel";
    assert!(whole(msg, false).is_err());
    assert!(whole(&CHUNKED[..CHUNKED.len() - 1], false).is_err());
    assert!(whole(b"HTTP/1.1 200 O", false).is_err());
}

proptest! {
    /// Any split of a chunked response into reads decodes the same.
    #[test]
    fn chunked_any_splits(cuts in proptest::collection::vec(0..CHUNKED.len(), 0..8)) {
        let mut cuts = cuts;
        cuts.sort_unstable();
        let mut parts = Vec::new();
        let mut at = 0;
        for c in cuts {
            parts.push(&CHUNKED[at..c]);
            at = c;
        }
        parts.push(&CHUNKED[at..]);
        prop_assert_eq!(decode(&parts, false).unwrap(), whole(CHUNKED, false).unwrap());
    }

    /// Random chunk sizes and data round-trip to the right byte count.
    #[test]
    fn chunked_random_bodies(chunks in proptest::collection::vec(1usize..300, 0..10), split in 0usize..4000) {
        let mut msg = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
        for n in &chunks {
            msg.extend_from_slice(format!("{n:x}\r\n").as_bytes());
            msg.extend(std::iter::repeat_n(b'x', *n));
            msg.extend_from_slice(b"\r\n");
        }
        msg.extend_from_slice(b"0\r\n\r\n");
        let split = split.min(msg.len());
        let seen = decode(&[&msg[..split], &msg[split..]], false).unwrap();
        prop_assert_eq!(seen.bytes, chunks.iter().sum::<usize>() as u64);
        prop_assert_eq!(seen.rest, 0);
    }
}

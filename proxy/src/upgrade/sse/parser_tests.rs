use super::*;
use proptest::prelude::*;

/// Feeds `chunks` in order; returns what was forwarded, the events counted, each id seen at a
/// boundary, and whether a partial event is left.
fn run(chunks: &[&[u8]]) -> (Vec<u8>, u64, Vec<Option<String>>, bool) {
    let mut p = EventParser::default();
    let (mut out, mut events, mut ids) = (Vec::new(), 0, Vec::new());
    for c in chunks {
        if let Some(done) = p.feed(c) {
            out.extend_from_slice(&done.bytes);
            events += done.events;
            ids.push(p.last_id().map(str::to_owned));
        }
    }
    (out, events, ids, p.has_partial())
}

#[test]
fn an_event_is_held_until_its_blank_line() {
    let mut p = EventParser::default();
    assert_eq!(p.feed(b"id: 1\ndata: a"), None);
    assert!(p.has_partial());
    let done = p.feed(b"\n\nid: 2\n").unwrap();
    assert_eq!(&done.bytes[..], b"id: 1\ndata: a\n\n");
    assert_eq!(done.events, 1);
    assert_eq!(p.last_id(), Some("1"));
    assert!(p.has_partial());
}

#[test]
fn comments_are_forwarded_but_not_counted() {
    let (out, events, _, partial) = run(&[b": heartbeat\n\n"]);
    assert_eq!(out, b": heartbeat\n\n");
    assert_eq!(events, 0);
    assert!(!partial);
}

#[test]
fn every_line_ending_ends_events() {
    let (out, events, ids, partial) = run(&[b"id:1\r\ndata\r\n\r\nid: 2\rdata: x\r\r", b"\n"]);
    assert_eq!(events, 2);
    assert_eq!(ids.last().unwrap().as_deref(), Some("2"));
    assert!(!partial, "a trailing LF after CR is the rest of a line end");
    assert_eq!(out, b"id:1\r\ndata\r\n\r\nid: 2\rdata: x\r\r");
}

#[test]
fn an_empty_id_resets_and_nul_is_ignored() {
    let mut p = EventParser::default();
    p.feed(b"id: 7\ndata: a\n\n");
    p.feed(b"id: 8\0\ndata: b\n\n");
    assert_eq!(p.last_id(), Some("7"));
    p.feed(b"id\ndata: c\n\n");
    assert_eq!(p.last_id(), None);
}

#[test]
fn restart_drops_the_partial_event_and_keeps_the_last_id() {
    let mut p = EventParser::default();
    p.feed(b"id: 3\ndata: a\n\nid: 4\ndata: hal");
    p.restart();
    assert!(!p.has_partial());
    assert_eq!(p.last_id(), Some("3"));
    let done = p.feed(b"id: 4\ndata: whole\n\n").unwrap();
    assert_eq!(&done.bytes[..], b"id: 4\ndata: whole\n\n");
}

#[test]
fn idle_parser_holds_no_buffer() {
    let mut p = EventParser::default();
    p.feed(b"data: a\n\n");
    assert_eq!(p.buf.capacity(), 0);
}

fn stream() -> impl Strategy<Value = Vec<u8>> {
    let field = prop_oneof![
        "[a-z0-9 ]{0,8}".prop_map(|v| format!("data: {v}")),
        "[0-9]{1,4}".prop_map(|v| format!("id: {v}")),
        Just(": hb".to_owned()),
        Just("event: x".to_owned()),
        Just("retry: 10".to_owned()),
    ];
    let eol = prop_oneof![Just("\n"), Just("\r\n"), Just("\r")];
    prop::collection::vec((field, eol.clone(), any::<bool>(), eol), 0..12).prop_map(|parts| {
        let mut s = String::new();
        for (f, e1, blank, e2) in parts {
            s.push_str(&f);
            s.push_str(e1);
            if blank {
                s.push_str(e2);
            }
        }
        s.into_bytes()
    })
}

proptest! {
    #[test]
    fn any_chunking_gives_the_same_events(bytes in stream(), cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8)) {
        let whole = run(&[&bytes]);
        let mut at: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
        at.sort_unstable();
        let mut chunks: Vec<&[u8]> = Vec::new();
        let mut from = 0;
        for a in at {
            chunks.push(&bytes[from..a]);
            from = a;
        }
        chunks.push(&bytes[from..]);
        let split = run(&chunks);
        // The same bytes forwarded (a trailing LF of a CRLF may trail into the next chunk),
        // the same events, the same last id.
        let trim = |v: &[u8]| v.strip_suffix(b"\n").map(<[u8]>::to_vec).unwrap_or_else(|| v.to_vec());
        prop_assert_eq!(trim(&whole.0), trim(&split.0));
        prop_assert_eq!(whole.1, split.1);
        prop_assert_eq!(whole.2.last().cloned().flatten(), split.2.last().cloned().flatten());
        prop_assert_eq!(whole.3, split.3);
        // Nothing forwarded that is not the input, in order.
        prop_assert!(bytes.starts_with(&split.0));
    }
}

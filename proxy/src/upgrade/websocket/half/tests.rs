use super::*;
use crate::upgrade::websocket::frame::{apply_mask, close_frame, control};
use proptest::prelude::*;

/// A data frame with `payload`, masked with `mask` when given.
fn data(op: u8, fin: bool, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut f = vec![if fin { 0x80 } else { 0 } | op];
    let m = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => f.push(m | n as u8),
        n if n <= 0xFFFF => {
            f.push(m | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(m | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    let start = f.len() + if mask.is_some() { 4 } else { 0 };
    if let Some(k) = mask {
        f.extend_from_slice(&k);
    }
    f.extend_from_slice(payload);
    if let Some(k) = mask {
        apply_mask(&mut f[start..], k, 0);
    }
    f
}

/// Feeds `stream` to a half in chunks of the given sizes; returns what it passed on.
fn relay(half: &mut Half, stream: &[u8], cuts: &[usize], max: u64) -> (Vec<u8>, Seen) {
    let mut out = Vec::new();
    let mut total = Seen::default();
    let mut at = 0;
    let mut cuts = cuts.iter().copied().cycle();
    while at < stream.len() {
        let n = cuts.next().unwrap_or(1).clamp(1, stream.len() - at);
        let mut chunk = stream[at..at + n].to_vec();
        at += n;
        let (range, seen) = half.process(&mut chunk, max);
        out.append(&mut half.out);
        out.extend_from_slice(&chunk[range]);
        total.messages += seen.messages;
        total.close = total.close.or(seen.close);
        total.refused = total.refused.or(seen.refused);
    }
    (out, total)
}

fn sample_stream(masked: bool) -> Vec<u8> {
    let mask = masked.then_some([9, 8, 7, 6]);
    let mut s = Vec::new();
    s.extend(data(opcode::TEXT, true, b"hello", mask));
    s.extend(data(opcode::BINARY, false, &[1; 300], mask));
    s.extend(control(opcode::PING, b"p", masked));
    s.extend(data(opcode::CONTINUATION, true, &[2; 70_000], mask));
    s.extend(data(opcode::TEXT, true, b"", mask));
    s.extend(close_frame(4000, "bye", masked));
    s
}

#[test]
fn a_stream_passes_through_byte_for_byte() {
    for masked in [false, true] {
        let stream = sample_stream(masked);
        let mut half = Half::new(masked);
        let (out, seen) = relay(&mut half, &stream, &[16 * 1024], u64::MAX);
        assert_eq!(out, stream);
        assert_eq!(seen.messages, 3, "text, fragmented binary, empty text");
        assert_eq!(seen.close, Some(4000));
        assert!(seen.refused.is_none());
    }
}

proptest! {
    #[test]
    fn any_chunking_gives_the_same_bytes(cuts in proptest::collection::vec(1usize..40_000, 1..20), masked: bool) {
        let stream = sample_stream(masked);
        let mut half = Half::new(masked);
        let (out, seen) = relay(&mut half, &stream, &cuts, u64::MAX);
        prop_assert_eq!(out, stream);
        prop_assert_eq!(seen.messages, 3);
        prop_assert_eq!(seen.close, Some(4000));
    }
}

#[test]
fn an_oversize_message_is_refused_before_its_frame_goes_on() {
    let mut half = Half::new(true);
    let mut stream = data(opcode::TEXT, true, b"ok", Some([1, 2, 3, 4]));
    let first_len = stream.len();
    stream.extend(data(opcode::BINARY, false, &[0; 600], Some([1, 2, 3, 4])));
    stream.extend(data(
        opcode::CONTINUATION,
        true,
        &[0; 600],
        Some([1, 2, 3, 4]),
    ));
    let (out, seen) = relay(&mut half, &stream, &[7], 1000);
    assert_eq!(seen.refused.map(|r| r.0), Some(frame::close::TOO_BIG));
    // The first message and the first fragment went on; the fragment over the limit did not.
    assert_eq!(out.len(), first_len + 4 + 4 + 600);
}

#[test]
fn unmasked_client_frames_are_a_protocol_error() {
    let mut half = Half::new(true);
    let stream = data(opcode::TEXT, true, b"x", None);
    let (out, seen) = relay(&mut half, &stream, &[100], u64::MAX);
    assert!(out.is_empty());
    assert_eq!(
        seen.refused.map(|r| r.0),
        Some(frame::close::PROTOCOL_ERROR)
    );
}

#[test]
fn pongs_to_the_proxy_pings_are_not_passed_on() {
    let mut half = Half::new(true);
    let mut stream = control(opcode::PONG, PING_PAYLOAD, true);
    stream.extend(control(opcode::PONG, b"theirs", true));
    let (out, _) = relay(&mut half, &stream, &[3], u64::MAX);
    // Ours is 2 + 4 (mask) + payload bytes long; only theirs goes on.
    assert_eq!(out, stream[PING_PAYLOAD.len() + 6..].to_vec());
}

#[test]
fn injected_frames_wait_for_the_end_of_a_frame() {
    let mut half = Half::new(false);
    let frame_bytes = data(opcode::BINARY, true, &[5; 100], None);
    let mut first = frame_bytes[..50].to_vec();
    let (r, _) = half.process(&mut first, u64::MAX);
    let mut out = half.out.split_off(0);
    out.extend_from_slice(&first[r]);
    let ping = control(opcode::PING, PING_PAYLOAD, false);
    half.queue(&ping);
    assert!(half.out.is_empty(), "mid-frame: the ping waits");
    let mut second = frame_bytes[50..].to_vec();
    let (r, _) = half.process(&mut second, u64::MAX);
    out.append(&mut half.out);
    out.extend_from_slice(&second[r]);
    let mut expected = frame_bytes.clone();
    expected.extend_from_slice(&ping);
    assert_eq!(out, expected);
}

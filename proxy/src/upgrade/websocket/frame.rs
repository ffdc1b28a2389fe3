//! RFC 6455 §5 frames as the relay sees them: an incremental header parser that never copies a
//! data payload, and the few control frames the proxy writes itself (ping, close).

/// Opcodes the relay tells apart.
pub(crate) mod opcode {
    /// A continuation of a fragmented message.
    pub(crate) const CONTINUATION: u8 = 0x0;
    /// The first frame of a text message.
    pub(crate) const TEXT: u8 = 0x1;
    /// The first frame of a binary message.
    pub(crate) const BINARY: u8 = 0x2;
    /// Close.
    pub(crate) const CLOSE: u8 = 0x8;
    /// Ping.
    pub(crate) const PING: u8 = 0x9;
    /// Pong.
    pub(crate) const PONG: u8 = 0xA;
}

/// Close codes the proxy sends (RFC 6455 §7.4.1).
pub(crate) mod close {
    /// The endpoint is going away: idle, shutdown, the other side lost.
    pub(crate) const GOING_AWAY: u16 = 1001;
    /// A protocol error.
    pub(crate) const PROTOCOL_ERROR: u16 = 1002;
    /// A message too big to process.
    pub(crate) const TOO_BIG: u16 = 1009;
    /// No status code in the close frame (reported, never sent).
    pub(crate) const NO_STATUS: u16 = 1005;
    /// The connection dropped without a close frame (reported, never sent).
    pub(crate) const ABNORMAL: u16 = 1006;
}

/// Largest header: 2 bytes, 8 of extended length, 4 of mask.
pub(crate) const MAX_HEAD: usize = 14;
/// Largest control payload (§5.5).
pub(crate) const MAX_CONTROL: usize = 125;

/// A parsed frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Head {
    /// Last frame of its message.
    pub(crate) fin: bool,
    /// The opcode.
    pub(crate) opcode: u8,
    /// The masking key, when masked.
    pub(crate) mask: Option<[u8; 4]>,
    /// Payload length.
    pub(crate) len: u64,
    /// Header length in bytes.
    pub(crate) head_len: usize,
}

impl Head {
    /// Close, ping or pong.
    pub(crate) fn is_control(&self) -> bool {
        self.opcode & 0x8 != 0
    }
}

/// Why a header is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Masking wrong for the direction, a reserved opcode, a fragmented or long control frame,
    /// or a length with its top bit set.
    Protocol(&'static str),
}

/// How many header bytes `first_two` announces in all.
pub(crate) fn head_len(first_two: [u8; 2]) -> usize {
    let ext = match first_two[1] & 0x7F {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    let mask = if first_two[1] & 0x80 != 0 { 4 } else { 0 };
    2 + ext + mask
}

/// Parses a complete header (`bytes.len() == head_len(..)`); `masked` is what the direction
/// requires (client to server frames are masked, server to client ones are not).
pub(crate) fn parse(bytes: &[u8], masked: bool) -> Result<Head, Refused> {
    let (b0, b1) = (bytes[0], bytes[1]);
    let fin = b0 & 0x80 != 0;
    let opcode = b0 & 0x0F;
    let is_masked = b1 & 0x80 != 0;
    if is_masked != masked {
        return Err(Refused::Protocol(if masked {
            "a client frame must be masked"
        } else {
            "a server frame must not be masked"
        }));
    }
    if !matches!(opcode, 0x0..=0x2 | 0x8..=0xA) {
        return Err(Refused::Protocol("reserved opcode"));
    }
    let (len, at) = match b1 & 0x7F {
        126 => (u64::from(u16::from_be_bytes([bytes[2], bytes[3]])), 4),
        127 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[2..10]);
            (u64::from_be_bytes(b), 10)
        }
        n => (u64::from(n), 2),
    };
    if len >> 63 != 0 {
        return Err(Refused::Protocol("payload length with its top bit set"));
    }
    let mask = is_masked.then(|| [bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    let head = Head {
        fin,
        opcode,
        mask,
        len,
        head_len: head_len([b0, b1]),
    };
    if head.is_control() && (!fin || len > MAX_CONTROL as u64) {
        return Err(Refused::Protocol(
            "a control frame must be one frame of at most 125 bytes",
        ));
    }
    Ok(head)
}

/// XORs `data` with `mask`, `offset` bytes into the payload (masking is its own inverse).
pub(crate) fn apply_mask(data: &mut [u8], mask: [u8; 4], offset: usize) {
    for (i, b) in data.iter_mut().enumerate() {
        *b ^= mask[(offset + i) % 4];
    }
}

/// A control frame the proxy sends: masked with a fresh key towards a server, plain towards a
/// client.
pub(crate) fn control(op: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let payload = &payload[..payload.len().min(MAX_CONTROL)];
    let mut out = Vec::with_capacity(6 + payload.len());
    out.push(0x80 | op);
    // Bounded by MAX_CONTROL above: fits the 7-bit length.
    let len = payload.len() as u8;
    if masked {
        let key: [u8; 4] = rand::random();
        out.push(0x80 | len);
        out.extend_from_slice(&key);
        let start = out.len();
        out.extend_from_slice(payload);
        apply_mask(&mut out[start..], key, 0);
    } else {
        out.push(len);
        out.extend_from_slice(payload);
    }
    out
}

/// A close frame with `code` and a reason (cut to fit a control frame).
pub(crate) fn close_frame(code: u16, reason: &str, masked: bool) -> Vec<u8> {
    let mut payload = Vec::with_capacity(2 + reason.len());
    payload.extend_from_slice(&code.to_be_bytes());
    let mut cut = reason.len().min(MAX_CONTROL - 2);
    while !reason.is_char_boundary(cut) {
        cut -= 1;
    }
    payload.extend_from_slice(&reason.as_bytes()[..cut]);
    control(opcode::CLOSE, &payload, masked)
}

/// The status code of a close payload (already unmasked); 1005 when it carries none.
pub(crate) fn close_code(payload: &[u8]) -> u16 {
    match payload {
        [a, b, ..] => u16::from_be_bytes([*a, *b]),
        _ => close::NO_STATUS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head_of(frame: &[u8], masked: bool) -> Head {
        let n = head_len([frame[0], frame[1]]);
        parse(&frame[..n], masked).unwrap()
    }

    #[test]
    fn lengths_in_all_three_forms() {
        let short = [0x81, 0x05];
        assert_eq!(head_of(&short, false).len, 5);
        let mid = [0x82, 126, 0x01, 0x00];
        assert_eq!(head_of(&mid, false).len, 256);
        let long = [0x82, 127, 0, 0, 0, 0, 0, 0x10, 0, 0];
        assert_eq!(head_of(&long, false).len, 1 << 20);
        assert_eq!(head_of(&long, false).head_len, 10);
    }

    #[test]
    fn masking_must_match_the_direction() {
        assert!(parse(&[0x81, 0x00], true).is_err());
        assert!(parse(&[0x81, 0x80, 1, 2, 3, 4], false).is_err());
        let h = parse(&[0x81, 0x80, 1, 2, 3, 4], true).unwrap();
        assert_eq!(h.mask, Some([1, 2, 3, 4]));
        assert_eq!(h.head_len, 6);
    }

    #[test]
    fn control_frames_are_short_and_final() {
        assert!(parse(&[0x09, 0x00], false).is_err(), "fragmented ping");
        assert!(parse(&[0x89, 126, 0, 200], false).is_err(), "long ping");
        assert!(parse(&[0x83, 0x00], false).is_err(), "reserved opcode");
        assert!(parse(&[0x89, 0x00], false).unwrap().is_control());
    }

    #[test]
    fn close_frames_round_trip_masked_and_plain() {
        for masked in [false, true] {
            let f = close_frame(1009, "message too big", masked);
            let h = head_of(&f, masked);
            assert_eq!(h.opcode, opcode::CLOSE);
            let mut payload = f[h.head_len..].to_vec();
            if let Some(m) = h.mask {
                apply_mask(&mut payload, m, 0);
            }
            assert_eq!(close_code(&payload), 1009);
            assert_eq!(&payload[2..], b"message too big");
        }
        assert_eq!(close_code(&[]), close::NO_STATUS);
    }

    #[test]
    fn reasons_are_cut_on_a_char_boundary() {
        let long = "é".repeat(100);
        let f = close_frame(1001, &long, false);
        assert!(f.len() <= 2 + MAX_CONTROL);
        assert!(std::str::from_utf8(&f[4..]).is_ok());
    }
}

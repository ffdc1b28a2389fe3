//! Incremental `Transfer-Encoding: chunked` decoding that counts data bytes without copying them.

use super::response::Malformed;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Hex digits of a chunk size (`digits` so far).
    Size,
    /// A chunk extension (or whitespace before it), skipped up to CR.
    Ext,
    /// LF after a size line.
    SizeLf,
    /// Chunk data, `remaining` bytes left.
    Data,
    /// CR after chunk data.
    DataCr,
    /// LF after chunk data.
    DataLf,
    /// Start of a trailer line (or the final blank line).
    Trailer,
    /// Inside a trailer field line, skipped up to CR.
    TrailerLine,
    /// LF ending a trailer field line.
    TrailerLf,
    /// LF ending the message.
    EndLf,
    /// The message is complete.
    Done,
}

/// Chunked body decoder state.
#[derive(Debug, Clone)]
pub(crate) struct Chunked {
    state: State,
    size: u64,
    digits: u8,
}

impl Default for Chunked {
    fn default() -> Self {
        Self {
            state: State::Size,
            size: 0,
            digits: 0,
        }
    }
}

impl Chunked {
    /// Consumes from `buf`; returns `(bytes consumed, data bytes among them)`. Stops right
    /// after the message ends (see [`Chunked::is_done`]), leaving later bytes unconsumed.
    pub(crate) fn feed(&mut self, buf: &[u8]) -> Result<(usize, u64), Malformed> {
        let mut i = 0;
        let mut data = 0u64;
        while i < buf.len() && self.state != State::Done {
            if self.state == State::Data {
                let avail = (buf.len() - i) as u64;
                let take = avail.min(self.size);
                i += take as usize; // `take` ≤ what is left of `buf`
                data += take;
                self.size -= take;
                if self.size == 0 {
                    self.state = State::DataCr;
                }
                continue;
            }
            let b = buf[i];
            i += 1;
            self.state = match (self.state, b) {
                (State::Size, b) if b.is_ascii_hexdigit() => {
                    if self.digits >= 16 {
                        return Err(Malformed("chunk size overflows"));
                    }
                    self.digits += 1;
                    self.size = self.size << 4 | u64::from(hex(b));
                    State::Size
                }
                (State::Size, b';' | b' ' | b'\t') if self.digits > 0 => State::Ext,
                (State::Size, b'\r') if self.digits > 0 => State::SizeLf,
                (State::Size, _) => return Err(Malformed("bad chunk size")),
                (State::Ext, b'\r') => State::SizeLf,
                (State::Ext, b'\n') => return Err(Malformed("bare LF in chunk extension")),
                (State::Ext, _) => State::Ext,
                (State::SizeLf, b'\n') if self.size == 0 => State::Trailer,
                (State::SizeLf, b'\n') => State::Data,
                (State::DataCr, b'\r') => State::DataLf,
                (State::DataLf, b'\n') => {
                    self.digits = 0;
                    State::Size
                }
                (State::Trailer, b'\r') => State::EndLf,
                (State::Trailer, b'\n') => return Err(Malformed("bare LF in trailers")),
                (State::TrailerLine, b'\r') => State::TrailerLf,
                (State::Trailer | State::TrailerLine, _) => State::TrailerLine,
                (State::TrailerLf, b'\n') => State::Trailer,
                (State::EndLf, b'\n') => State::Done,
                _ => return Err(Malformed("bad chunk framing")),
            };
        }
        Ok((i, data))
    }

    /// Whether the terminating chunk and trailers have been read.
    pub(crate) fn is_done(&self) -> bool {
        self.state == State::Done
    }
}

fn hex(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => b - b'A' + 10,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(body: &[u8]) -> Result<(usize, u64, bool), Malformed> {
        let mut c = Chunked::default();
        let (n, data) = c.feed(body)?;
        Ok((n, data, c.is_done()))
    }

    #[test]
    fn sizes_extensions_and_trailers() {
        let body =
            b"5;name=val\r\nhello\r\nA \r\n0123456789\r\n0\r\nx-trailer: 1\r\nx-b: 2\r\n\r\nNEXT";
        assert_eq!(decode(body).unwrap(), (body.len() - 4, 15, true));
    }

    #[test]
    fn upper_case_hex_and_no_trailers() {
        let body = b"1F\r\n0123456789012345678901234567890\r\n0\r\n\r\n";
        assert_eq!(decode(body).unwrap(), (body.len(), 31, true));
    }

    #[test]
    fn malformed() {
        for bad in [
            &b"\r\n"[..],
            b"g\r\n",
            b"5\r\nhelloX",
            b"5\nhello",
            b"11111111111111111\r\n",
            b"0\r\n\n",
        ] {
            assert!(decode(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn incomplete_is_not_done() {
        assert_eq!(decode(b"5\r\nhel").unwrap(), (6, 3, false));
        assert_eq!(decode(b"0\r\n\r").unwrap(), (4, 0, false));
    }
}

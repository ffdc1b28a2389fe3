//! Decoding a response body taken off its connection: chunked (RFC 9112 §7.1), by length, or
//! to the end of the connection. Only the payload comes out; chunk extensions and trailers are
//! read and dropped, as hyper does.

use crate::forward::Framing;

/// Longest chunk-size line accepted, extensions included.
const MAX_SIZE_LINE: u32 = 4096;
/// Longest trailer section accepted.
const MAX_TRAILERS: u32 = 16 * 1024;

/// Where a chunked body stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Chunk {
    /// In the hex size (`digits` read).
    Size { size: u64, digits: u8 },
    /// In an extension (or whitespace) after the size.
    Ext { size: u64 },
    /// After the size line's carriage return.
    SizeLf { size: u64 },
    /// In the chunk's data, `left` bytes to go.
    Data { left: u64 },
    /// After the data: the carriage return.
    DataCr,
    /// After the data: the line feed.
    DataLf,
    /// At the start of a trailer line (or the final blank line).
    TrailerStart,
    /// Inside a trailer line.
    TrailerLine,
    /// After the final blank line's carriage return.
    TrailerLf,
}

/// A body decoder; feed it bytes as they arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decoder {
    /// A chunked body; `line` counts bytes of the current size line or of the trailers.
    Chunked { at: Chunk, line: u32 },
    /// `left` bytes of a body with a length.
    Length { left: u64 },
    /// Everything until the connection ends.
    Close,
    /// The body has ended; further bytes are ignored.
    Done,
}

/// A malformed body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Malformed(pub(crate) &'static str);

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "malformed response body from the backend: {}", self.0)
    }
}

impl std::error::Error for Malformed {}

impl Decoder {
    /// A decoder for a body with `framing`.
    pub(crate) fn new(framing: Framing) -> Self {
        match framing {
            Framing::Chunked => Decoder::Chunked {
                at: Chunk::Size { size: 0, digits: 0 },
                line: 0,
            },
            Framing::Length(0) => Decoder::Done,
            Framing::Length(left) => Decoder::Length { left },
            Framing::Close => Decoder::Close,
        }
    }

    /// True once the body has ended.
    pub(crate) fn done(&self) -> bool {
        *self == Decoder::Done
    }

    /// The connection ended: fine for a body that runs to the close, an error otherwise.
    pub(crate) fn eof(&mut self) -> Result<(), Malformed> {
        match self {
            Decoder::Close | Decoder::Done => {
                *self = Decoder::Done;
                Ok(())
            }
            _ => Err(Malformed("the connection ended before the body did")),
        }
    }

    /// Decodes `input`, appending the payload to `out`.
    pub(crate) fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), Malformed> {
        let mut i = 0;
        while i < input.len() {
            match self {
                Decoder::Done => return Ok(()),
                Decoder::Close => {
                    out.extend_from_slice(&input[i..]);
                    return Ok(());
                }
                Decoder::Length { left } => {
                    i += copy(&input[i..], left, out);
                    if *left == 0 {
                        *self = Decoder::Done;
                    }
                }
                Decoder::Chunked { at, line } => {
                    if let Chunk::Data { left } = at {
                        i += copy(&input[i..], left, out);
                        if *left == 0 {
                            *at = Chunk::DataCr;
                        }
                        continue;
                    }
                    let b = input[i];
                    i += 1;
                    *line += 1;
                    match step(*at, b)? {
                        Step::To(next) => *at = next,
                        Step::SizeDone(0) => {
                            *at = Chunk::TrailerStart;
                            *line = 0;
                        }
                        Step::SizeDone(size) => *at = Chunk::Data { left: size },
                        Step::End => *self = Decoder::Done,
                    }
                    if let Decoder::Chunked { at, line } = self {
                        let limit = match at {
                            Chunk::Size { .. } | Chunk::Ext { .. } | Chunk::SizeLf { .. } => {
                                MAX_SIZE_LINE
                            }
                            Chunk::TrailerStart | Chunk::TrailerLine | Chunk::TrailerLf => {
                                MAX_TRAILERS
                            }
                            _ => {
                                *line = 0;
                                u32::MAX
                            }
                        };
                        if *line > limit {
                            return Err(Malformed("chunk size line or trailers too long"));
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// Copies up to `left` payload bytes from the start of `input` to `out`; returns how many.
fn copy(input: &[u8], left: &mut u64, out: &mut Vec<u8>) -> usize {
    let n = usize::try_from(*left)
        .unwrap_or(usize::MAX)
        .min(input.len());
    out.extend_from_slice(&input[..n]);
    *left -= n as u64;
    n
}

/// What one framing byte of a chunked body leads to.
enum Step {
    To(Chunk),
    /// The size line ended with this size.
    SizeDone(u64),
    /// The final blank line ended the body.
    End,
}

fn step(at: Chunk, b: u8) -> Result<Step, Malformed> {
    Ok(match at {
        Chunk::Size { size, digits } => match b {
            b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                if digits >= 15 {
                    return Err(Malformed("chunk size too large"));
                }
                let d = u64::from(hex(b));
                Step::To(Chunk::Size {
                    size: size * 16 + d,
                    digits: digits + 1,
                })
            }
            _ if digits == 0 => return Err(Malformed("chunk size expected")),
            b';' | b' ' | b'\t' => Step::To(Chunk::Ext { size }),
            b'\r' => Step::To(Chunk::SizeLf { size }),
            b'\n' => Step::SizeDone(size),
            _ => return Err(Malformed("invalid chunk size")),
        },
        Chunk::Ext { size } => match b {
            b'\r' => Step::To(Chunk::SizeLf { size }),
            b'\n' => Step::SizeDone(size),
            _ => Step::To(Chunk::Ext { size }),
        },
        Chunk::SizeLf { size } => match b {
            b'\n' => Step::SizeDone(size),
            _ => return Err(Malformed("chunk size line not ended by CRLF")),
        },
        // Data is copied in bulk by `Decoder::feed`, never stepped byte by byte.
        Chunk::Data { .. } => Step::To(at),
        Chunk::DataCr => match b {
            b'\r' => Step::To(Chunk::DataLf),
            b'\n' => Step::To(Chunk::Size { size: 0, digits: 0 }),
            _ => return Err(Malformed("chunk data not ended by CRLF")),
        },
        Chunk::DataLf => match b {
            b'\n' => Step::To(Chunk::Size { size: 0, digits: 0 }),
            _ => return Err(Malformed("chunk data not ended by CRLF")),
        },
        Chunk::TrailerStart => match b {
            b'\r' => Step::To(Chunk::TrailerLf),
            b'\n' => Step::End,
            _ => Step::To(Chunk::TrailerLine),
        },
        Chunk::TrailerLine => match b {
            b'\n' => Step::To(Chunk::TrailerStart),
            _ => Step::To(Chunk::TrailerLine),
        },
        Chunk::TrailerLf => match b {
            b'\n' => Step::End,
            _ => return Err(Malformed("trailers not ended by CRLF")),
        },
    })
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
    use proptest::prelude::*;

    fn decode_all(framing: Framing, parts: &[&[u8]]) -> Result<(Vec<u8>, bool), Malformed> {
        let mut d = Decoder::new(framing);
        let mut out = Vec::new();
        for p in parts {
            d.feed(p, &mut out)?;
        }
        Ok((out, d.done()))
    }

    #[test]
    fn chunked_with_extensions_and_trailers() {
        let body = b"5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nx-trailer: 1\r\n\r\nNEXT";
        assert_eq!(
            decode_all(Framing::Chunked, &[body]).unwrap(),
            (b"hello world".to_vec(), true)
        );
    }

    #[test]
    fn chunked_refuses_garbage() {
        for bad in [
            &b"zz\r\n"[..],
            b"\r\n",
            b"5\r\nhelloXX",
            b"5\rX",
            b"1234567890abcdef0\r\n",
        ] {
            assert!(decode_all(Framing::Chunked, &[bad]).is_err(), "{bad:?}");
        }
        let long = [b"5;".as_slice(), &[b'x'; 5000]].concat();
        assert!(decode_all(Framing::Chunked, &[&long]).is_err());
    }

    #[test]
    fn length_and_close() {
        assert_eq!(
            decode_all(Framing::Length(5), &[b"hel", b"loEXTRA"]).unwrap(),
            (b"hello".to_vec(), true)
        );
        assert_eq!(
            decode_all(Framing::Length(0), &[]).unwrap(),
            (Vec::new(), true)
        );
        let mut d = Decoder::new(Framing::Close);
        let mut out = Vec::new();
        d.feed(b"abc", &mut out).unwrap();
        assert!(!d.done());
        d.eof().unwrap();
        assert!(d.done());
        assert_eq!(out, b"abc");
        let mut cut = Decoder::new(Framing::Chunked);
        cut.feed(b"5\r\nhe", &mut out).unwrap();
        assert!(cut.eof().is_err());
    }

    fn encode(chunks: &[Vec<u8>]) -> Vec<u8> {
        let mut v = Vec::new();
        for c in chunks.iter().filter(|c| !c.is_empty()) {
            v.extend_from_slice(format!("{:X}\r\n", c.len()).as_bytes());
            v.extend_from_slice(c);
            v.extend_from_slice(b"\r\n");
        }
        v.extend_from_slice(b"0\r\n\r\n");
        v
    }

    proptest! {
        #[test]
        fn chunked_decodes_whatever_the_read_boundaries(
            chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..8),
            cuts in proptest::collection::vec(0usize..2000, 0..10),
        ) {
            let wire = encode(&chunks);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (wire.len() + 1)).collect();
            cuts.push(0);
            cuts.push(wire.len());
            cuts.sort_unstable();
            let parts: Vec<&[u8]> = cuts.windows(2).map(|w| &wire[w[0]..w[1]]).collect();
            let (out, done) = decode_all(Framing::Chunked, &parts).unwrap();
            prop_assert!(done);
            prop_assert_eq!(out, chunks.concat());
        }
    }
}

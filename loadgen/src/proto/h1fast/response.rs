//! Incremental HTTP/1.1 response decoding: the head with httparse, then a body framed by
//! `Content-Length`, chunks, or the connection closing. Body bytes are counted, never kept.

use std::mem::MaybeUninit;

use super::chunked::Chunked;

/// Most headers a response may have (hyper's default limit is 100 too).
const MAX_HEADERS: usize = 100;
/// Largest response head accepted before calling the response malformed.
pub(crate) const MAX_HEAD: usize = 256 * 1024;

/// A response that does not parse (reported as a protocol error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Malformed(pub(crate) &'static str);

/// How the body of the current response ends.
#[derive(Debug, Clone)]
enum Phase {
    /// Waiting for (the rest of) a status line and headers.
    Head,
    /// This many body bytes are still to come.
    Length(u64),
    /// Chunked body.
    Chunked(Chunked),
    /// The body runs until the server closes the connection.
    UntilClose,
    /// Complete.
    Done,
}

/// What [`Decoder::feed`] needs next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Progress {
    /// More bytes (or end of stream).
    More,
    /// The response is complete.
    Done,
}

/// Decodes one response at a time; reused across responses without allocating.
#[derive(Debug)]
pub(crate) struct Decoder {
    group_name: Option<Box<[u8]>>,
    head_request: bool,
    phase: Phase,
    /// Final status code.
    pub(crate) status: u16,
    /// Body bytes received (chunk data only for chunked bodies).
    pub(crate) bytes: u64,
    /// Whether the connection may carry another request afterwards.
    pub(crate) keep_alive: bool,
    /// Whether the grouping header was present; its value is in `group`.
    pub(crate) has_group: bool,
    /// The grouping header's value (valid when `has_group`).
    pub(crate) group: Vec<u8>,
}

impl Decoder {
    /// A decoder that captures the value of `group_name` (matched case-insensitively).
    pub(crate) fn new(group_name: Option<&str>) -> Self {
        Self {
            group_name: group_name.map(|g| g.as_bytes().into()),
            head_request: false,
            phase: Phase::Done,
            status: 0,
            bytes: 0,
            keep_alive: true,
            has_group: false,
            group: Vec::new(),
        }
    }

    /// Starts decoding the response to the request just sent.
    pub(crate) fn start(&mut self, head_request: bool) {
        self.head_request = head_request;
        self.phase = Phase::Head;
        self.status = 0;
        self.bytes = 0;
        self.keep_alive = true;
        self.has_group = false;
    }

    /// Consumes what it can of `buf`; returns the bytes consumed and whether it is done.
    pub(crate) fn feed(&mut self, buf: &[u8]) -> Result<(usize, Progress), Malformed> {
        let mut at = 0;
        loop {
            let rest = &buf[at..];
            match &mut self.phase {
                Phase::Head => match self.head(rest)? {
                    Some(n) => at += n,
                    None if rest.len() > MAX_HEAD => return Err(Malformed("head too large")),
                    None => return Ok((at, Progress::More)),
                },
                Phase::Length(0) => self.phase = Phase::Done,
                Phase::Length(left) => {
                    let take = (rest.len() as u64).min(*left);
                    *left -= take;
                    self.bytes += take;
                    at += take as usize; // `take` ≤ `rest.len()`
                    if *left > 0 {
                        return Ok((at, Progress::More));
                    }
                }
                Phase::Chunked(c) => {
                    let (n, data) = c.feed(rest)?;
                    at += n;
                    self.bytes += data;
                    if c.is_done() {
                        self.phase = Phase::Done;
                    } else {
                        return Ok((at, Progress::More));
                    }
                }
                Phase::UntilClose => {
                    self.bytes += rest.len() as u64;
                    return Ok((buf.len(), Progress::More));
                }
                Phase::Done => return Ok((at, Progress::Done)),
            }
        }
    }

    /// The stream ended: fine for a body delimited by the close, an error otherwise.
    pub(crate) fn eof(&mut self) -> Result<(), Malformed> {
        match self.phase {
            Phase::UntilClose | Phase::Done => {
                self.phase = Phase::Done;
                Ok(())
            }
            _ => Err(Malformed("connection closed mid-response")),
        }
    }

    /// Whether nothing of the response has been decoded yet.
    pub(crate) fn is_fresh(&self) -> bool {
        matches!(self.phase, Phase::Head) && self.status == 0
    }

    /// Parses a head at the start of `buf`; `None` if it is incomplete.
    fn head(&mut self, buf: &[u8]) -> Result<Option<usize>, Malformed> {
        // Uninitialised header slots: no 3 KiB memset per response.
        let mut headers = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
        let mut res = httparse::Response::new(&mut []);
        let len = match httparse::ParserConfig::default().parse_response_with_uninit_headers(
            &mut res,
            buf,
            &mut headers,
        ) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(_) => return Err(Malformed("bad response head")),
        };
        let status = res.code.ok_or(Malformed("no status"))?;
        match status {
            101 => return Err(Malformed("unexpected 101 switching protocols")),
            100..=199 => {
                // Informational: skip it; the final response follows. Mark progress so an
                // EOF now is not mistaken for a stale connection.
                self.status = status;
                return Ok(Some(len));
            }
            _ => {}
        }
        let http11 = res.version == Some(1);
        let (mut length, mut chunked, mut te, mut close, mut keep) =
            (None, false, false, false, false);
        self.has_group = false;
        for h in res.headers.iter() {
            let name = h.name.as_bytes();
            if name.eq_ignore_ascii_case(b"content-length") {
                for part in h.value.split(|b| *b == b',') {
                    let n = parse_length(part.trim_ascii())?;
                    if length.is_some_and(|l| l != n) {
                        return Err(Malformed("conflicting content-length"));
                    }
                    length = Some(n);
                }
            } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                te = true;
                // Only the last coding decides whether the body is chunked.
                chunked = h
                    .value
                    .rsplit(|b| *b == b',')
                    .next()
                    .is_some_and(|c| c.trim_ascii().eq_ignore_ascii_case(b"chunked"));
            } else if name.eq_ignore_ascii_case(b"connection") {
                for token in h.value.split(|b| *b == b',') {
                    let token = token.trim_ascii();
                    close |= token.eq_ignore_ascii_case(b"close");
                    keep |= token.eq_ignore_ascii_case(b"keep-alive");
                }
            }
            if let Some(g) = &self.group_name
                && name.eq_ignore_ascii_case(g)
                && !self.has_group
            {
                self.has_group = true;
                self.group.clear();
                self.group.extend_from_slice(h.value);
            }
        }
        self.status = status;
        self.keep_alive = !close && (http11 || keep);
        self.phase = if self.head_request || status == 204 || status == 304 {
            Phase::Done
        } else if te && chunked {
            Phase::Chunked(Chunked::default())
        } else if te {
            Phase::UntilClose
        } else if let Some(n) = length {
            Phase::Length(n)
        } else {
            Phase::UntilClose
        };
        if matches!(self.phase, Phase::UntilClose) {
            self.keep_alive = false;
        }
        Ok(Some(len))
    }
}

fn parse_length(v: &[u8]) -> Result<u64, Malformed> {
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return Err(Malformed("bad content-length"));
    }
    Ok(v.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')))
}

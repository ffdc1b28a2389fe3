//! The HTTP/1 request framing follower: a byte-at-a-time state machine over the client's
//! stream, head → body (none, Content-Length, chunked) → next head, with fixed-size state.
//!
//! It never changes a byte and never allocates after construction; it answers "is the framing
//! of request #k unambiguous" and stops at the first violation.

use super::Violation;

/// Longest header name remembered (enough for every name the framing depends on).
const NAME_CAP: usize = 20;
/// Longest framing header value kept (`Content-Length`, `Transfer-Encoding`).
const VALUE_CAP: usize = 32;
/// Largest chunk size accepted (2^48 bytes): anything larger is an overflow attempt.
const MAX_CHUNK: u64 = 1 << 48;
/// The request line of the HTTP/2 connection preface.
const H2_PREFACE_LINE: &[u8] = b"PRI * HTTP/2.0";

/// Limits the follower enforces on a head.
#[derive(Debug, Clone, Copy)]
pub struct HeadLimits {
    /// A head reaching this many bytes (request line to the blank line) is too large.
    pub max_head_bytes: usize,
    /// Most header fields.
    pub max_headers: usize,
}

/// Which framing header a line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Name {
    Other,
    ContentLength,
    TransferEncoding,
}

/// Where in the stream the follower is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before a request line: empty lines (CRLF) are skipped, as RFC 9112 §2.2 allows.
    Start,
    /// Saw CR before a request line.
    StartLf,
    /// In the request line.
    RequestLine,
    /// Saw CR ending the request line.
    RequestLineLf,
    /// At the first byte of a header line (or of the blank line ending the head).
    LineStart,
    /// In a field name.
    FieldName,
    /// In a field value.
    FieldValue,
    /// Saw CR ending a field line.
    FieldLf,
    /// Saw CR of the blank line.
    HeadLf,
    /// In a Content-Length body: this many bytes left.
    Fixed(u64),
    /// In a chunk-size line, before any digit.
    ChunkSizeStart,
    /// In the hex digits of a chunk size.
    ChunkSize,
    /// In a chunk extension (after `;`).
    ChunkExt,
    /// Saw CR ending a chunk-size line.
    ChunkSizeLf,
    /// In chunk data: this many bytes left.
    ChunkData(u64),
    /// Expecting the CR after chunk data.
    ChunkDataCr,
    /// Expecting the LF after chunk data.
    ChunkDataLf,
    /// At the start of a trailer line (or the blank line ending the message).
    TrailerStart,
    /// In a trailer field's name.
    Trailer,
    /// In a trailer field's value.
    TrailerValue,
    /// Saw CR ending a trailer field line.
    TrailerLf,
    /// Saw CR of the blank line ending the trailers.
    TrailerEndLf,
    /// Not HTTP/1 any more (h2 preface), or told to stop (upgrade), or after a violation.
    Off,
}

/// Follows the framing of a stream of HTTP/1 requests; see the module docs.
#[derive(Debug, Clone)]
pub struct Follower {
    limits: HeadLimits,
    state: State,
    /// Index of the request being read (0-based).
    request: u64,
    /// Bytes of the current head so far.
    head_bytes: usize,
    /// Header fields of the current head so far.
    fields: usize,
    /// The request line's first bytes (to spot the h2 preface and the version).
    line: [u8; 16],
    line_len: usize,
    /// The current field name, lower-cased (first [`NAME_CAP`] bytes).
    name: [u8; NAME_CAP],
    name_len: usize,
    /// The current framing header value (first [`VALUE_CAP`] bytes after leading OWS).
    value: [u8; VALUE_CAP],
    value_len: usize,
    /// The value was longer than [`VALUE_CAP`].
    value_long: bool,
    /// Framing headers of the current head.
    content_length: Option<u64>,
    chunked: bool,
    /// The chunk size being read.
    chunk: u64,
}

impl Follower {
    /// A follower at the start of a connection.
    pub fn new(limits: HeadLimits) -> Self {
        Self::resumed(limits, 0)
    }

    /// A follower between two requests of a connection, `requests` of them already read.
    pub fn resumed(limits: HeadLimits, requests: u64) -> Self {
        Self {
            limits,
            state: State::Start,
            request: requests,
            head_bytes: 0,
            fields: 0,
            line: [0; 16],
            line_len: 0,
            name: [0; NAME_CAP],
            name_len: 0,
            value: [0; VALUE_CAP],
            value_len: 0,
            value_long: false,
            content_length: None,
            chunked: false,
            chunk: 0,
        }
    }

    /// True once the follower has stepped aside (h2, upgrade, or after a violation).
    pub fn is_off(&self) -> bool {
        self.state == State::Off
    }

    /// Requests whose framing has been followed to their end.
    pub fn completed(&self) -> u64 {
        self.request
    }

    /// True between requests (nothing of the next request read yet).
    pub fn is_idle(&self) -> bool {
        self.state == State::Start
    }

    /// True while a head is being read (some of its bytes seen, not yet complete).
    pub fn in_head(&self) -> bool {
        !matches!(
            self.state,
            State::Start
                | State::Off
                | State::Fixed(_)
                | State::ChunkSizeStart
                | State::ChunkSize
                | State::ChunkExt
                | State::ChunkSizeLf
                | State::ChunkData(_)
                | State::ChunkDataCr
                | State::ChunkDataLf
                | State::TrailerStart
                | State::Trailer
                | State::TrailerValue
                | State::TrailerLf
                | State::TrailerEndLf
        )
    }

    /// Stops following: the rest of the stream is not HTTP/1 requests (an upgrade).
    pub fn stop(&mut self) {
        self.state = State::Off;
    }

    /// Feeds the next bytes of the stream; returns the first violation and the index of the
    /// request it is in, after which the follower is off.
    pub fn feed(&mut self, bytes: &[u8]) -> Option<(u64, Violation)> {
        self.feed_with(bytes, true)
    }

    /// [`Follower::feed`] without taking field values and request lines in bulk: the
    /// reference the bulk path is checked against.
    #[cfg(test)]
    pub(super) fn feed_bytewise(&mut self, bytes: &[u8]) -> Option<(u64, Violation)> {
        self.feed_with(bytes, false)
    }

    fn feed_with(&mut self, bytes: &[u8], bulk: bool) -> Option<(u64, Violation)> {
        let mut i = 0;
        while i < bytes.len() {
            // Skip body bytes in bulk.
            match self.state {
                State::Off => return None,
                State::Fixed(left) | State::ChunkData(left) => {
                    let take = left.min((bytes.len() - i) as u64);
                    i += take as usize;
                    let left = left - take;
                    self.state = match (self.state, left) {
                        (State::Fixed(_), 0) => self.next_request(),
                        (State::Fixed(_), n) => State::Fixed(n),
                        (_, 0) => State::ChunkDataCr,
                        (_, n) => State::ChunkData(n),
                    };
                    continue;
                }
                State::FieldName if bulk => {
                    let run = self.name_run(&bytes[i..]);
                    if run > 0 {
                        i += run;
                        continue;
                    }
                }
                State::FieldValue | State::RequestLine if bulk => {
                    let run = self.plain_run(&bytes[i..]);
                    if run > 0 {
                        i += run;
                        continue;
                    }
                }
                _ => {}
            }
            if let Err(v) = self.step(bytes[i]) {
                self.state = State::Off;
                return Some((self.request, v));
            }
            i += 1;
        }
        None
    }

    /// Takes in bulk the bytes of a field value or request line up to its CR, when none is a
    /// violation: a value of a field other than the framing headers (nothing of it is kept),
    /// or the request line (its first bytes are kept, as [`Follower::request_line_byte`]
    /// keeps them). Returns how many it took; 0 leaves the next byte to [`Follower::step`]
    /// (which finds the exact violation, or the byte where the head limit is reached).
    fn plain_run(&mut self, rest: &[u8]) -> usize {
        let value = match self.state {
            State::FieldValue if self.name_len > 0 && self.name_kind() == Name::Other => true,
            State::RequestLine => false,
            _ => return 0,
        };
        let mut n = 0;
        for &b in rest {
            if b == b'\r' {
                break;
            }
            // As `value_byte` and `request_line_byte` refuse: controls (LF among them) and
            // DEL; a tab is allowed in a value only.
            if (b < b' ' && !(value && b == b'\t')) || b == 0x7f {
                return 0;
            }
            n += 1;
        }
        if self.head_bytes + n >= self.limits.max_head_bytes {
            return 0;
        }
        if !value {
            let keep = (self.line.len() - self.line_len).min(n);
            self.line[self.line_len..self.line_len + keep].copy_from_slice(&rest[..keep]);
            self.line_len += keep;
        }
        self.head_bytes += n;
        n
    }

    /// Takes in bulk the rest of a field name up to its colon when every byte is a `tchar`,
    /// keeping its lower-cased prefix as [`Follower::name_byte`] does. Returns how many it
    /// took; 0 leaves the next byte to [`Follower::step`].
    fn name_run(&mut self, rest: &[u8]) -> usize {
        let n = rest
            .iter()
            .position(|&b| !is_tchar(b))
            .unwrap_or(rest.len());
        if n == 0 || self.head_bytes + n >= self.limits.max_head_bytes {
            return 0;
        }
        let kept = self.name_len.min(NAME_CAP);
        for (slot, b) in self.name[kept..].iter_mut().zip(&rest[..n]) {
            *slot = b.to_ascii_lowercase();
        }
        self.name_len += n;
        self.head_bytes += n;
        n
    }

    /// Ends the current message and gets ready for the next request.
    fn next_request(&mut self) -> State {
        self.request += 1;
        self.head_bytes = 0;
        State::Start
    }

    fn step(&mut self, b: u8) -> Result<(), Violation> {
        use State::*;
        if self.in_head() || self.state == Start && b != b'\r' && b != b'\n' {
            self.head_bytes += 1;
            // hyper refuses a head that fills its buffer (`max_header_bytes`): so does this.
            if self.head_bytes >= self.limits.max_head_bytes {
                return Err(Violation::HeadTooLarge);
            }
        }
        self.state = match (self.state, b) {
            (Start, b'\r') => StartLf,
            (StartLf, b'\n') => Start,
            (Start, b'\n') | (StartLf, _) => return Err(Violation::BareLineEnd),
            (Start, _) => {
                self.begin_head();
                self.request_line_byte(b)?;
                RequestLine
            }
            (RequestLine, b'\r') => RequestLineLf,
            (RequestLine, _) => {
                self.request_line_byte(b)?;
                RequestLine
            }
            (RequestLineLf, b'\n') => {
                if &self.line[..self.line_len.min(H2_PREFACE_LINE.len())] == H2_PREFACE_LINE
                    && self.request == 0
                {
                    Off
                } else {
                    self.check_request_line()?;
                    LineStart
                }
            }
            (LineStart, b'\r') => HeadLf,
            (LineStart, b' ' | b'\t') => return Err(Violation::ObsFold),
            (LineStart, _) => {
                self.fields += 1;
                if self.fields > self.limits.max_headers {
                    return Err(Violation::TooManyHeaders);
                }
                self.name_len = 0;
                self.value_len = 0;
                self.value_long = false;
                self.name_byte(b)?;
                FieldName
            }
            (FieldName, b':') => FieldValue,
            (FieldName, _) => {
                self.name_byte(b)?;
                FieldName
            }
            (FieldValue, b'\r') => FieldLf,
            (FieldValue, _) => {
                self.value_byte(b)?;
                FieldValue
            }
            (FieldLf, b'\n') => {
                self.end_field()?;
                LineStart
            }
            (HeadLf, b'\n') => self.end_head()?,
            (ChunkSizeStart | ChunkSize, b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F') => {
                let digit = (b as char).to_digit(16).unwrap_or(0) as u64;
                self.chunk = self.chunk * 16 + digit;
                if self.chunk > MAX_CHUNK {
                    return Err(Violation::ChunkTooLarge);
                }
                ChunkSize
            }
            (ChunkSize, b';') => ChunkExt,
            (ChunkSize | ChunkExt, b'\r') => ChunkSizeLf,
            (ChunkExt, b'\t' | b' '..=b'~') => ChunkExt,
            (ChunkExt, 0x80..=0xff) => ChunkExt,
            (ChunkSizeStart | ChunkSize | ChunkExt, _) => return Err(Violation::BadChunk),
            (ChunkSizeLf, b'\n') => match std::mem::take(&mut self.chunk) {
                0 => TrailerStart,
                n => ChunkData(n),
            },
            (ChunkDataCr, b'\r') => ChunkDataLf,
            (ChunkDataLf, b'\n') => ChunkSizeStart,
            (ChunkDataCr | ChunkDataLf, _) => return Err(Violation::BadChunk),
            (TrailerStart, b'\r') => TrailerEndLf,
            (TrailerStart, b' ' | b'\t') => return Err(Violation::ObsFold),
            (TrailerStart | Trailer | TrailerValue, b'\n') => return Err(Violation::BareLineEnd),
            (TrailerStart, _) if is_tchar(b) => Trailer,
            (Trailer, b':') => TrailerValue,
            (Trailer, _) if is_tchar(b) => Trailer,
            (TrailerValue, b'\r') => TrailerLf,
            (TrailerValue, _) if b == b'\t' || b >= b' ' && b != 0x7f => TrailerValue,
            (TrailerStart | Trailer | TrailerValue, _) => return Err(Violation::BadTrailer),
            (TrailerLf, b'\n') => TrailerStart,
            (TrailerEndLf, b'\n') => self.next_request(),
            (RequestLineLf | FieldLf | HeadLf | ChunkSizeLf | TrailerLf | TrailerEndLf, _) => {
                return Err(Violation::BareLineEnd);
            }
            (Fixed(_) | ChunkData(_) | Off, _) => self.state,
        };
        Ok(())
    }

    fn begin_head(&mut self) {
        self.head_bytes = 1;
        self.fields = 0;
        self.line_len = 0;
        self.content_length = None;
        self.chunked = false;
    }

    fn request_line_byte(&mut self, b: u8) -> Result<(), Violation> {
        if b == b'\n' {
            return Err(Violation::BareLineEnd);
        }
        if b < b' ' || b == 0x7f {
            return Err(Violation::ControlChar);
        }
        if self.line_len < self.line.len() {
            self.line[self.line_len] = b;
            self.line_len += 1;
        }
        Ok(())
    }

    /// The request line must be `method SP target SP HTTP/1.x`; hyper checks the rest.
    fn check_request_line(&self) -> Result<(), Violation> {
        let method_end = self.line[..self.line_len].iter().position(|&c| c == b' ');
        match method_end {
            Some(n) if n > 0 && self.line[..n].iter().all(|&c| is_tchar(c)) => Ok(()),
            // A method longer than the prefix kept: hyper judges it.
            None if self.line_len == self.line.len() => Ok(()),
            _ => Err(Violation::BadRequestLine),
        }
    }

    fn name_byte(&mut self, b: u8) -> Result<(), Violation> {
        if b == b' ' || b == b'\t' {
            return Err(Violation::SpaceBeforeColon);
        }
        if b == b'\r' || b == b'\n' {
            return Err(Violation::BareLineEnd);
        }
        if !is_tchar(b) {
            return Err(Violation::BadFieldName);
        }
        if self.name_len < NAME_CAP {
            self.name[self.name_len] = b.to_ascii_lowercase();
        }
        self.name_len += 1;
        Ok(())
    }

    fn name_kind(&self) -> Name {
        match &self.name[..self.name_len.min(NAME_CAP)] {
            _ if self.name_len > NAME_CAP => Name::Other,
            b"content-length" => Name::ContentLength,
            b"transfer-encoding" => Name::TransferEncoding,
            _ => Name::Other,
        }
    }

    fn value_byte(&mut self, b: u8) -> Result<(), Violation> {
        if b == b'\n' {
            return Err(Violation::BareLineEnd);
        }
        if (b < b' ' && b != b'\t') || b == 0x7f {
            return Err(Violation::ControlChar);
        }
        if self.name_len == 0 {
            return Err(Violation::BadFieldName);
        }
        if self.value_len == 0 && (b == b' ' || b == b'\t') {
            return Ok(()); // leading OWS
        }
        if self.value_len < VALUE_CAP {
            self.value[self.value_len] = b;
            self.value_len += 1;
        } else {
            self.value_long = true;
        }
        Ok(())
    }

    fn end_field(&mut self) -> Result<(), Violation> {
        if self.name_len == 0 {
            return Err(Violation::BadFieldName);
        }
        let kind = self.name_kind();
        if kind == Name::Other {
            return Ok(());
        }
        let mut end = self.value_len;
        while end > 0 && matches!(self.value[end - 1], b' ' | b'\t') {
            end -= 1;
        }
        let value = &self.value[..end];
        match kind {
            Name::ContentLength => {
                if self.content_length.is_some() {
                    return Err(Violation::DuplicateContentLength);
                }
                self.content_length = Some(content_length(value, self.value_long)?);
            }
            Name::TransferEncoding => {
                if self.chunked {
                    return Err(Violation::BadTransferEncoding);
                }
                if self.value_long || value != b"chunked" {
                    return Err(Violation::BadTransferEncoding);
                }
                self.chunked = true;
            }
            Name::Other => {}
        }
        Ok(())
    }

    fn end_head(&mut self) -> Result<State, Violation> {
        match (self.content_length, self.chunked) {
            (Some(_), true) => Err(Violation::ContentLengthAndChunked),
            (_, true) => {
                self.chunk = 0;
                Ok(State::ChunkSizeStart)
            }
            (Some(0) | None, false) => Ok(self.next_request()),
            (Some(n), false) => Ok(State::Fixed(n)),
        }
    }
}

/// `1*DIGIT` without a leading zero (except `0` itself) and without overflow.
fn content_length(value: &[u8], long: bool) -> Result<u64, Violation> {
    let bad = Err(Violation::BadContentLength);
    if long || value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return bad;
    }
    if value.len() > 1 && value[0] == b'0' {
        return bad;
    }
    value.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(d - b'0')))
            .ok_or(Violation::BadContentLength)
    })
}

/// RFC 9110 §5.6.2 token characters.
fn is_tchar(b: u8) -> bool {
    TCHAR[b as usize]
}

/// RFC 9110 `tchar` by byte value.
const TCHAR: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        table[i] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        i += 1;
    }
    table
};

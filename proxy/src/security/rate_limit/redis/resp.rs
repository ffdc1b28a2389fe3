//! RESP2, the part a rate limiter needs: commands out as arrays of bulk strings, replies in
//! (simple strings, errors, integers, bulk strings, arrays), parsed incrementally.

/// Longest bulk string or array accepted in a reply (ours are a few numbers).
const MAX_LEN: i64 = 1 << 20;
/// Deepest array nesting accepted.
const MAX_DEPTH: usize = 4;

/// One reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    /// `+OK`.
    Simple(String),
    /// `-ERR ...`: the server refused the command.
    Error(String),
    /// `:42`.
    Int(i64),
    /// `$3 abc`; `None` for the null bulk string.
    Bulk(Option<Vec<u8>>),
    /// `*2 ...`; `None` for the null array.
    Array(Option<Vec<Value>>),
}

/// The reply was not RESP2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad reply from Redis: {0}")]
pub(crate) struct ProtocolError(pub(crate) &'static str);

/// Appends `args` as one command.
pub(crate) fn encode(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.push(b'*');
    out.extend_from_slice(args.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    for a in args {
        out.push(b'$');
        out.extend_from_slice(a.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// The first complete reply in `buf` and the bytes it took; `None` when more are needed.
pub(crate) fn parse(buf: &[u8]) -> Result<Option<(Value, usize)>, ProtocolError> {
    parse_at(buf, 0, 0)
}

fn line(buf: &[u8], from: usize) -> Option<(&[u8], usize)> {
    let rest = buf.get(from..)?;
    let end = rest.windows(2).position(|w| w == b"\r\n")?;
    Some((&rest[..end], from + end + 2))
}

fn int(text: &[u8]) -> Result<i64, ProtocolError> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.parse().ok())
        .ok_or(ProtocolError("not an integer"))
}

fn parse_at(buf: &[u8], at: usize, depth: usize) -> Result<Option<(Value, usize)>, ProtocolError> {
    let Some(&kind) = buf.get(at) else {
        return Ok(None);
    };
    let Some((text, next)) = line(buf, at + 1) else {
        if buf.len() - at > MAX_LEN as usize {
            return Err(ProtocolError("line too long"));
        }
        return Ok(None);
    };
    let string = || String::from_utf8_lossy(text).into_owned();
    match kind {
        b'+' => Ok(Some((Value::Simple(string()), next))),
        b'-' => Ok(Some((Value::Error(string()), next))),
        b':' => Ok(Some((Value::Int(int(text)?), next))),
        b'$' => {
            let n = int(text)?;
            if n < 0 {
                return Ok(Some((Value::Bulk(None), next)));
            }
            if n > MAX_LEN {
                return Err(ProtocolError("bulk string too long"));
            }
            let end = next + n as usize;
            if buf.len() < end + 2 {
                return Ok(None);
            }
            if &buf[end..end + 2] != b"\r\n" {
                return Err(ProtocolError("bulk string without CRLF"));
            }
            Ok(Some((Value::Bulk(Some(buf[next..end].to_vec())), end + 2)))
        }
        b'*' => {
            let n = int(text)?;
            if n < 0 {
                return Ok(Some((Value::Array(None), next)));
            }
            if n > MAX_LEN || depth >= MAX_DEPTH {
                return Err(ProtocolError("array too long or too deep"));
            }
            let mut items = Vec::with_capacity(n.min(16) as usize);
            let mut pos = next;
            for _ in 0..n {
                match parse_at(buf, pos, depth + 1)? {
                    Some((v, p)) => {
                        items.push(v);
                        pos = p;
                    }
                    None => return Ok(None),
                }
            }
            Ok(Some((Value::Array(Some(items)), pos)))
        }
        _ => Err(ProtocolError("unknown reply type")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_arrays_of_bulk_strings() {
        let mut out = Vec::new();
        encode(&mut out, &[b"GET", b"k"]);
        assert_eq!(out, b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
    }

    #[test]
    fn every_reply_kind_parses_and_partial_ones_wait() {
        let whole: &[u8] = b"*5\r\n+OK\r\n-NOSCRIPT no\r\n:-7\r\n$3\r\na\r\n\r\n$-1\r\n:1\r\n";
        let (v, used) = parse(whole).unwrap().unwrap();
        assert_eq!(
            v,
            Value::Array(Some(vec![
                Value::Simple("OK".into()),
                Value::Error("NOSCRIPT no".into()),
                Value::Int(-7),
                Value::Bulk(Some(b"a\r\n".to_vec())),
                Value::Bulk(None),
            ]))
        );
        assert_eq!(&whole[used..], b":1\r\n", "the next reply is left");
        for cut in 0..used {
            assert_eq!(parse(&whole[..cut]).unwrap(), None, "cut at {cut}");
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_wait() {
        assert!(parse(b"?what\r\n").is_err());
        assert!(parse(b":12x\r\n").is_err());
        assert!(parse(b"$3\r\nabcXY").is_err());
        assert!(parse(b"$999999999\r\n").is_err());
        assert!(parse(b"*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n").is_err());
    }
}

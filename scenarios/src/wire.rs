//! Reading HTTP/1.1 answers off raw bytes: the first status, and how many responses came.

/// The status code of the status line `bytes` starts with (`HTTP/1.x NNN ...`).
pub fn status_of(bytes: &[u8]) -> Option<u16> {
    let line = bytes.split(|b| *b == b'\n').next()?;
    let rest = line.strip_prefix(b"HTTP/1.")?;
    let code = rest.get(2..5)?;
    if rest.get(1) != Some(&b' ') || !code.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(code).ok()?.parse().ok()
}

/// Responses in `bytes`: status lines at the start or right after a line end. A body that
/// happens to contain such a line would be counted too; probes use small known bodies.
pub fn count_responses(bytes: &[u8]) -> usize {
    let mut n = usize::from(status_of(bytes).is_some());
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'\n' && status_of(&bytes[i + 1..]).is_some() {
            n += 1;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_are_read_and_counted() {
        assert_eq!(status_of(b"HTTP/1.1 400 Bad Request\r\n"), Some(400));
        assert_eq!(status_of(b"HTTP/1.0 200 OK\r\n"), Some(200));
        assert_eq!(status_of(b"HTTP/2 200\r\n"), None);
        assert_eq!(status_of(b"HTTP/1.1 20x\r\n"), None);
        assert_eq!(status_of(b""), None);
        let two = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokHTTP/1.1 404 Not Found\r\n\r\n";
        assert_eq!(
            count_responses(two),
            1,
            "a status line glued to a body is not at a line start"
        );
        let two =
            b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nok\r\nHTTP/1.1 404 Not Found\r\n\r\n";
        assert_eq!(count_responses(two), 2);
        assert_eq!(count_responses(b"garbage"), 0);
    }
}

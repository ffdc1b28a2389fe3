//! Path normalisation before routing: what the route table matches and the backend receives.
//!
//! The rule, applied to the path (never the query):
//! - `.` and `..` segments are resolved (RFC 3986 §5.2.4), also when written `%2e`, `%2E.`,
//!   `.%2e` and so on; a `..` that would climb above the root is refused (400 `bad_path`).
//! - empty segments (`//`) are merged into one `/`.
//! - encoded slashes and backslashes (`%2F`, `%5C`) stay encoded and are never separators, so
//!   an id such as `a%2Fb` reaches the backend as written; but a segment that would be a `..`
//!   once a backend decoded them (`..%2F`, `%2e%2e%5Cetc`) is refused as `bad_path`, as is a
//!   raw `\` next to `..`, since some backends treat either as a separator.
//! - every other byte, percent-escape included, is kept as sent.

use std::borrow::Cow;

/// The path climbs above the root, or hides a `..` behind an encoded separator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadPath;

/// The normalised form of `path`; borrowed when it is already normal (the common case).
pub fn normalize(path: &str) -> Result<Cow<'_, str>, BadPath> {
    if !path.starts_with('/') {
        return Ok(Cow::Borrowed(path)); // `*` (OPTIONS) and the like: nothing to resolve
    }
    if is_normal(path) {
        return Ok(Cow::Borrowed(path));
    }
    let mut out = String::with_capacity(path.len());
    let last = path.rsplit('/').next().unwrap_or("");
    let ends_in_dir = last.is_empty() || dot_segment(last).is_some();
    // Start offsets in `out` of each kept segment, to pop on `..`.
    let mut starts: Vec<usize> = Vec::new();
    for seg in path[1..].split('/') {
        match dot_segment(seg) {
            Some(2) => out.truncate(starts.pop().ok_or(BadPath)?),
            Some(_) => {}
            None if seg.is_empty() => {}
            None if hides_dot_dot(seg) => return Err(BadPath),
            None => {
                starts.push(out.len());
                out.push('/');
                out.push_str(seg);
            }
        }
    }
    if out.is_empty() || ends_in_dir {
        out.push('/');
    }
    Ok(Cow::Owned(out))
}

/// True when nothing in `path` needs resolving (no `//`, no dot segment, nothing encoded
/// that could hide one).
fn is_normal(path: &str) -> bool {
    let b = path.as_bytes();
    !(b.windows(2).any(|w| w == b"//")
        || b.contains(&b'\\')
        || b.windows(2).any(|w| w == b"/.")
        || b.windows(3).any(|w| {
            w[0] == b'%' && matches!(&w[1..], b"2e" | b"2E" | b"2f" | b"2F" | b"5c" | b"5C")
        }))
}

/// `Some(1)` for a `.` segment, `Some(2)` for `..`, in any mix of `.` and `%2e`.
fn dot_segment(seg: &str) -> Option<u8> {
    let mut n = 0u8;
    let mut rest = seg.as_bytes();
    while !rest.is_empty() {
        if rest[0] == b'.' {
            rest = &rest[1..];
        } else if rest.len() >= 3
            && rest[0] == b'%'
            && rest[1] == b'2'
            && matches!(rest[2], b'e' | b'E')
        {
            rest = &rest[3..];
        } else {
            return None;
        }
        n += 1;
        if n > 2 {
            return None;
        }
    }
    (n > 0).then_some(n)
}

/// True when `seg`, split on encoded or raw `/` and `\`, has a `..` part.
fn hides_dot_dot(seg: &str) -> bool {
    let b = seg.as_bytes();
    let has_sep = b.contains(&b'\\')
        || b.windows(3)
            .any(|w| w[0] == b'%' && matches!(&w[1..], b"2f" | b"2F" | b"5c" | b"5C"));
    if !has_sep {
        return false;
    }
    let mut part_start = 0;
    let mut i = 0;
    while i <= b.len() {
        let sep_len = if i == b.len() || b[i] == b'\\' {
            1
        } else if i + 3 <= b.len()
            && b[i] == b'%'
            && matches!(&b[i + 1..i + 3], b"2f" | b"2F" | b"5c" | b"5C")
        {
            3
        } else {
            0
        };
        if sep_len > 0 {
            if dot_segment(&seg[part_start..i]) == Some(2) {
                return true;
            }
            i += sep_len;
            part_start = i;
        } else {
            i += 1;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(p: &str) -> Result<String, BadPath> {
        normalize(p).map(Cow::into_owned)
    }

    #[test]
    fn normal_paths_are_borrowed() {
        for p in ["/", "/api/users", "/a.b/c.json", "/x%20y", "/.well-known/x"] {
            let out = normalize(p).unwrap();
            assert_eq!(out, p);
        }
        assert!(matches!(normalize("/api/v1").unwrap(), Cow::Borrowed(_)));
    }

    #[test]
    fn dot_segments_and_double_slashes_are_resolved() {
        assert_eq!(n("/a/./b").unwrap(), "/a/b");
        assert_eq!(n("/a/../b").unwrap(), "/b");
        assert_eq!(n("/a/b/..").unwrap(), "/a/");
        assert_eq!(n("/a/b/.").unwrap(), "/a/b/");
        assert_eq!(n("//a///b//").unwrap(), "/a/b/");
        assert_eq!(n("/a/%2e%2e/b").unwrap(), "/b");
        assert_eq!(n("/a/%2E./b").unwrap(), "/b");
        assert_eq!(n("/a/.%2e/b").unwrap(), "/b");
        assert_eq!(n("/a/%2e/b").unwrap(), "/a/b");
        assert_eq!(n("/a/...").unwrap(), "/a/...");
        assert_eq!(n("/..a/b").unwrap(), "/..a/b");
        assert_eq!(n("/a/..").unwrap(), "/");
    }

    #[test]
    fn climbing_above_the_root_is_refused() {
        for p in [
            "/..",
            "/../etc/passwd",
            "/a/../../b",
            "/%2e%2e/x",
            "/./../x",
        ] {
            assert_eq!(n(p), Err(BadPath), "{p}");
        }
    }

    #[test]
    fn encoded_slashes_stay_encoded_but_cannot_hide_dot_dot() {
        assert_eq!(n("/files/a%2Fb").unwrap(), "/files/a%2Fb");
        assert_eq!(n("/files/a%5cb").unwrap(), "/files/a%5cb");
        for p in [
            "/static/..%2Fetc",
            "/static/%2e%2e%5Cwin",
            "/a/x%2F..",
            "/a\\..\\b",
        ] {
            assert_eq!(n(p), Err(BadPath), "{p}");
        }
    }
}

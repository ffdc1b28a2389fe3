//! Pre-serialised HTTP/1.1 requests: each template is encoded once; per request only the key
//! header's digits are spliced in between the stored head and tail.

use http::Method;
use http::header::{CONTENT_LENGTH, EXPECT, HeaderName, TRANSFER_ENCODING, UPGRADE};
use rand::rngs::SmallRng;

use crate::request::{Prepared, Templates};

/// One template on the wire: `head` + optional `key: <digits>\r\n` + `tail`.
#[derive(Debug)]
struct Encoded {
    /// Request line and headers, each ending in CRLF.
    head: Vec<u8>,
    /// The blank line and the body.
    tail: Vec<u8>,
    /// The whole request when no key is configured (`head` + `tail`).
    whole: Vec<u8>,
    /// HEAD requests get responses without a body.
    head_request: bool,
}

/// Every template, encoded once, plus the key header's `name: ` prefix.
#[derive(Debug)]
pub(crate) struct Wire {
    items: Vec<Encoded>,
    key_prefix: Option<Vec<u8>>,
}

/// Headers the fast path leaves to hyper: they change how the exchange itself works.
const UNSUPPORTED: [HeaderName; 3] = [TRANSFER_ENCODING, EXPECT, UPGRADE];

impl Wire {
    /// Encodes the templates; `None` if one of them needs hyper (e.g. `expect`, `upgrade`).
    pub(crate) fn build(templates: &Templates) -> Option<Self> {
        let key = templates.key_name();
        let items = templates
            .items()
            .iter()
            .map(|p| encode(p, key))
            .collect::<Option<Vec<_>>>()?;
        let key_prefix = key.map(|k| {
            let mut v = k.as_str().as_bytes().to_vec();
            v.extend_from_slice(b": ");
            v
        });
        Some(Self { items, key_prefix })
    }

    /// Chooses the next request, building it in `out` when it carries a key.
    ///
    /// Draws from `rng` exactly as [`Templates::next`] does, so both paths send the same
    /// sequence of templates and keys for the same seed.
    pub(crate) fn next(
        &self,
        templates: &Templates,
        rng: &mut SmallRng,
        out: &mut Vec<u8>,
    ) -> Next {
        let index = templates.pick(rng);
        let item = &self.items[index];
        let keyed = match (&self.key_prefix, templates.key_value(rng)) {
            (Some(prefix), Some(value)) => {
                out.clear();
                out.extend_from_slice(&item.head);
                out.extend_from_slice(prefix);
                push_decimal(out, value);
                out.extend_from_slice(b"\r\n");
                out.extend_from_slice(&item.tail);
                true
            }
            _ => false,
        };
        Next {
            index,
            keyed,
            head_request: item.head_request,
        }
    }

    /// The bytes of a request chosen by [`Wire::next`] (`out` is the buffer given to it).
    pub(crate) fn bytes<'a>(&'a self, next: Next, out: &'a [u8]) -> &'a [u8] {
        if next.keyed {
            out
        } else {
            &self.items[next.index].whole
        }
    }
}

/// A request chosen by [`Wire::next`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Next {
    index: usize,
    keyed: bool,
    /// HEAD requests get responses without a body.
    pub(crate) head_request: bool,
}

fn encode(p: &Prepared, key: Option<&HeaderName>) -> Option<Encoded> {
    if UNSUPPORTED.iter().any(|h| p.headers.contains_key(h)) {
        return None;
    }
    let mut head = Vec::with_capacity(128);
    head.extend_from_slice(p.method.as_str().as_bytes());
    head.push(b' ');
    head.extend_from_slice(p.uri.path_and_query()?.as_str().as_bytes());
    head.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in &p.headers {
        if Some(name) == key {
            continue; // the key replaces a template header of the same name, as in hyper
        }
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    let needs_length =
        !p.body.is_empty() || matches!(p.method, Method::POST | Method::PUT | Method::PATCH);
    if needs_length && !p.headers.contains_key(CONTENT_LENGTH) {
        head.extend_from_slice(b"content-length: ");
        push_decimal(&mut head, p.body.len() as u64);
        head.extend_from_slice(b"\r\n");
    }
    let mut tail = Vec::with_capacity(2 + p.body.len());
    tail.extend_from_slice(b"\r\n");
    tail.extend_from_slice(&p.body);
    let mut whole = head.clone();
    whole.extend_from_slice(&tail);
    Some(Encoded {
        head,
        tail,
        whole,
        head_request: p.method == Method::HEAD,
    })
}

/// Appends `v` in decimal without allocating.
fn push_decimal(out: &mut Vec<u8>, mut v: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;
    use crate::spec::{KeySpec, RequestTemplate};

    fn templates(t: Vec<RequestTemplate>, key: Option<KeySpec>) -> Templates {
        let base = "http://example.test:8080/base".parse().unwrap();
        Templates::build(&base, &t, key.as_ref(), false).unwrap()
    }

    #[test]
    fn default_get_has_host_and_nothing_else() {
        let t = templates(vec![], None);
        let wire = Wire::build(&t).unwrap();
        let mut out = Vec::new();
        let mut rng = SmallRng::seed_from_u64(1);
        let next = wire.next(&t, &mut rng, &mut out);
        let bytes = wire.bytes(next, &out);
        let head = next.head_request;
        assert_eq!(
            bytes,
            b"GET /base HTTP/1.1\r\nhost: example.test:8080\r\n\r\n"
        );
        assert!(!head);
    }

    #[test]
    fn key_is_spliced_and_post_gets_a_length() {
        let post = RequestTemplate {
            method: "POST".into(),
            path: Some("/p?q=1".into()),
            body: Some("abc".into()),
            headers: [("x-user-id".to_owned(), "stale".to_owned())].into(),
            ..RequestTemplate::default()
        };
        let key = KeySpec {
            header: "x-user-id".into(),
            from: 7,
            to: 7,
        };
        let t = templates(vec![post], Some(key));
        let wire = Wire::build(&t).unwrap();
        let mut out = Vec::new();
        let mut rng = SmallRng::seed_from_u64(1);
        let next = wire.next(&t, &mut rng, &mut out);
        let bytes = wire.bytes(next, &out);
        assert_eq!(
            std::str::from_utf8(bytes).unwrap(),
            "POST /p?q=1 HTTP/1.1\r\nhost: example.test:8080\r\ncontent-length: 3\r\n\
             x-user-id: 7\r\n\r\nabc"
        );
    }

    #[test]
    fn expect_falls_back_to_hyper() {
        let t = RequestTemplate {
            headers: [("expect".to_owned(), "100-continue".to_owned())].into(),
            ..RequestTemplate::default()
        };
        assert!(Wire::build(&templates(vec![t], None)).is_none());
    }

    #[test]
    fn decimal() {
        for v in [0, 9, 10, 12345, u64::MAX] {
            let mut out = Vec::new();
            push_decimal(&mut out, v);
            assert_eq!(out, v.to_string().as_bytes());
        }
    }
}

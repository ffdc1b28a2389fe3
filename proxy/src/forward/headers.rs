//! Request and response header rewriting: hop-by-hop removal, framing, cookies, trailers,
//! X-Forwarded-*, Forwarded, Via.

use crate::config::HeaderConfig;
use http::Version;
use http::header::{self, Entry, HeaderMap, HeaderName, HeaderValue};
use std::net::IpAddr;

/// Headers that describe one connection and are never forwarded (RFC 9110 §7.6.1).
/// `Trailer` is not among them: it announces end-to-end trailer fields, and hyper writes only
/// the trailers it names.
const HOP_BY_HOP: [HeaderName; 7] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// True when `token` is among the comma-separated tokens of the `field` values.
pub fn has_token(headers: &HeaderMap, field: &HeaderName, token: &str) -> bool {
    headers
        .get_all(field)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| {
            t.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case(token))
        })
}

/// The client takes trailer fields in a chunked response (`TE: trailers`).
pub fn accepts_trailers(headers: &HeaderMap) -> bool {
    has_token(headers, &header::TE, "trailers")
}

/// The client asked for a persistent connection (`Connection: keep-alive`, which an HTTP/1.0
/// client must send to get one).
pub fn wants_keep_alive(headers: &HeaderMap) -> bool {
    has_token(headers, &header::CONNECTION, "keep-alive")
}

/// RFC 9112 §6.3: with `Transfer-Encoding` present, `Content-Length` is wrong by definition
/// (the message was decoded by its transfer coding); drop it before the coding is removed.
pub fn drop_length_beside_encoding(headers: &mut HeaderMap) {
    if headers.contains_key(header::TRANSFER_ENCODING) {
        headers.remove(header::CONTENT_LENGTH);
    }
}

/// Joins several `cookie` fields into one, separated by `"; "`, as RFC 9113 §8.2.3 requires
/// before an HTTP/2 request goes on over HTTP/1.1 (many backends read only the first line).
pub fn join_cookies(headers: &mut HeaderMap) {
    let mut values = headers.get_all(header::COOKIE).iter();
    let (Some(first), Some(_)) = (values.next(), values.next()) else {
        return;
    };
    let mut joined = first.as_bytes().to_vec();
    for v in headers.get_all(header::COOKIE).iter().skip(1) {
        joined.extend_from_slice(b"; ");
        joined.extend_from_slice(v.as_bytes());
    }
    if let Ok(v) = HeaderValue::from_bytes(&joined) {
        headers.insert(header::COOKIE, v);
    }
}

/// Removes hop-by-hop headers, including every header named in `Connection`.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // The common head has none: one pass over its few names is cheaper than nine removals
    // (each hashes the name).
    if !headers.keys().any(is_hop_by_hop) {
        return;
    }
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named.iter().chain(HOP_BY_HOP.iter()) {
        headers.remove(name);
    }
    headers.remove("proxy-connection");
}

/// A name [`strip_hop_by_hop`] removes (every name `Connection` lists goes with `Connection`).
fn is_hop_by_hop(name: &HeaderName) -> bool {
    HOP_BY_HOP.contains(name) || name.as_str() == "proxy-connection"
}

/// What the proxy knows about the client side of a request.
#[derive(Debug, Clone, Copy)]
pub struct ClientSide<'a> {
    /// The socket peer's IP (appended to `X-Forwarded-For` and `Forwarded`).
    pub ip: IpAddr,
    /// The client's IP as resolved through trusted proxies (what `consistent_hash` hashes).
    pub client_ip: IpAddr,
    /// `http` or `https`.
    pub proto: &'static str,
    /// The host the client asked for, if any.
    pub host: Option<&'a str>,
    /// The client's HTTP version.
    pub version: Version,
    /// Client-certificate subject headers, never taken from the client (every TLS
    /// listener's `subject_header`).
    pub strip: &'a [HeaderName],
    /// The header and verified subject of the connection's client certificate, if any.
    pub subject: Option<(&'a HeaderName, &'a str)>,
}

/// Adds the forwarding headers to a request on its way upstream.
pub fn add_forwarding(headers: &mut HeaderMap, client: &ClientSide<'_>, config: &HeaderConfig) {
    for name in client.strip {
        headers.remove(name);
    }
    if let Some((name, subject)) = client.subject
        && let Ok(v) = HeaderValue::from_bytes(subject.as_bytes())
    {
        headers.insert(name.clone(), v);
    }
    let ip = client.ip.to_canonical();
    if config.x_forwarded {
        append_list(headers, X_FORWARDED_FOR, text_value(ip_text(ip)));
        headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static(client.proto));
        if let Some(host) = client.host.and_then(|h| HeaderValue::from_str(h).ok()) {
            headers.insert(X_FORWARDED_HOST, host);
        }
    }
    if config.forwarded {
        let node = match ip {
            IpAddr::V4(_) => ip_text(ip),
            IpAddr::V6(v6) => format!("\"[{v6}]\""),
        };
        let mut element = format!("for={node};proto={}", client.proto);
        if let Some(host) = client
            .host
            .filter(|h| h.bytes().all(|b| b.is_ascii_graphic() && b != b'"'))
        {
            element.push_str(&format!(";host=\"{host}\""));
        }
        append_list(headers, header::FORWARDED, text_value(element));
    }
    add_via(headers, client.version, config);
}

/// `text` as a header value without a copy; `None` (nothing added) if it cannot be one.
fn text_value(text: String) -> Option<HeaderValue> {
    HeaderValue::from_maybe_shared(bytes::Bytes::from(text)).ok()
}

/// `ip` as `Display` writes it (an IPv4 address by hand: see `crate::text`).
fn ip_text(ip: IpAddr) -> String {
    let IpAddr::V4(v4) = ip else {
        return ip.to_string();
    };
    let mut text = String::with_capacity(15);
    crate::text::push_ipv4(&mut text, v4);
    text
}

/// Appends this proxy to `Via` (requests and responses alike).
pub fn add_via(headers: &mut HeaderMap, version: Version, config: &HeaderConfig) {
    if let Some(via) = &config.via {
        append_list(headers, header::VIA, Some(via.item(version).clone()));
    }
}

/// Appends `item` to a comma-separated header, folding existing values into one line (values
/// that are not visible ASCII are dropped). One hashed lookup: the usual case (no such header
/// yet) inserts `item` as it is.
fn append_list(headers: &mut HeaderMap, name: HeaderName, item: Option<HeaderValue>) {
    let Some(item) = item else {
        return;
    };
    match headers.entry(name) {
        Entry::Vacant(slot) => {
            slot.insert(item);
        }
        Entry::Occupied(mut slot) => {
            let mut joined = Vec::new();
            for v in slot.iter().filter(|v| v.to_str().is_ok()) {
                joined.extend_from_slice(v.as_bytes());
                joined.extend_from_slice(b", ");
            }
            joined.extend_from_slice(item.as_bytes());
            if let Ok(v) = HeaderValue::from_maybe_shared(bytes::Bytes::from(joined)) {
                slot.insert(v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    proptest! {
        /// The hand-written IPv4 text is `Display`'s, for every address; IPv6 is `Display`.
        #[test]
        fn ip_text_is_what_display_writes(v4 in any::<u32>(), v6 in any::<u128>()) {
            let v4 = IpAddr::V4(Ipv4Addr::from(v4));
            prop_assert_eq!(ip_text(v4), v4.to_string());
            let v6 = IpAddr::V6(Ipv6Addr::from(v6));
            prop_assert_eq!(ip_text(v6), v6.to_string());
        }
    }

    #[test]
    fn ip_text_edges() {
        for (ip, text) in [
            ([0, 0, 0, 0], "0.0.0.0"),
            ([9, 10, 99, 100], "9.10.99.100"),
            ([255, 255, 255, 255], "255.255.255.255"),
            ([127, 0, 0, 1], "127.0.0.1"),
        ] {
            assert_eq!(ip_text(IpAddr::V4(Ipv4Addr::from(ip))), text);
        }
    }

    fn config() -> HeaderConfig {
        HeaderConfig {
            x_forwarded: true,
            forwarded: true,
            via: crate::config::Via::new("rampart"),
            request_id: HeaderName::from_static("x-request-id"),
        }
    }

    #[test]
    fn hop_by_hop_and_connection_named_headers_are_removed() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, x-secret"),
        );
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert(header::TE, HeaderValue::from_static("trailers"));
        h.insert("x-kept", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("x-kept"));
    }

    #[test]
    fn trailer_announcements_are_end_to_end() {
        let mut h = HeaderMap::new();
        h.insert(header::TRAILER, HeaderValue::from_static("x-checksum"));
        h.insert(header::TE, HeaderValue::from_static("trailers"));
        assert!(accepts_trailers(&h));
        strip_hop_by_hop(&mut h);
        assert_eq!(h[header::TRAILER], "x-checksum");
        assert!(!h.contains_key(header::TE));
    }

    #[test]
    fn cookie_crumbs_are_joined() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1"));
        h.append(header::COOKIE, HeaderValue::from_static("b=2"));
        h.append(header::COOKIE, HeaderValue::from_static("c=3"));
        join_cookies(&mut h);
        assert_eq!(h.get_all(header::COOKIE).iter().count(), 1);
        assert_eq!(h[header::COOKIE], "a=1; b=2; c=3");
    }

    #[test]
    fn transfer_encoding_wins_over_content_length() {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("5"));
        h.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        drop_length_beside_encoding(&mut h);
        assert!(!h.contains_key(header::CONTENT_LENGTH));
        let mut only_length = HeaderMap::new();
        only_length.insert(header::CONTENT_LENGTH, HeaderValue::from_static("5"));
        drop_length_beside_encoding(&mut only_length);
        assert_eq!(only_length[header::CONTENT_LENGTH], "5");
    }

    #[test]
    fn connection_tokens_are_matched_case_insensitively() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("Upgrade, Keep-Alive"),
        );
        assert!(wants_keep_alive(&h));
        h.insert(header::TE, HeaderValue::from_static("gzip;q=0.5, trailers"));
        assert!(accepts_trailers(&h));
    }

    #[test]
    fn forwarding_headers_append_to_what_came_in() {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.7"));
        h.insert(header::VIA, HeaderValue::from_static("1.1 edge"));
        let client = ClientSide {
            ip: "::1".parse().unwrap(),
            client_ip: "::1".parse().unwrap(),
            proto: "http",
            host: Some("api.test"),
            version: Version::HTTP_11,
            strip: &[],
            subject: None,
        };
        add_forwarding(&mut h, &client, &config());
        assert_eq!(h["x-forwarded-for"], "203.0.113.7, ::1");
        assert_eq!(h["x-forwarded-proto"], "http");
        assert_eq!(h["x-forwarded-host"], "api.test");
        assert_eq!(
            h[header::FORWARDED],
            "for=\"[::1]\";proto=http;host=\"api.test\""
        );
        assert_eq!(h[header::VIA], "1.1 edge, 1.1 rampart");
    }

    #[test]
    fn ipv4_mapped_clients_are_shown_as_ipv4() {
        let mut h = HeaderMap::new();
        let client = ClientSide {
            ip: "::ffff:127.0.0.1".parse().unwrap(),
            client_ip: "::ffff:127.0.0.1".parse().unwrap(),
            proto: "http",
            host: None,
            version: Version::HTTP_2,
            strip: &[],
            subject: None,
        };
        add_forwarding(&mut h, &client, &config());
        assert_eq!(h["x-forwarded-for"], "127.0.0.1");
        assert_eq!(h[header::VIA], "2 rampart");
    }

    #[test]
    fn via_folds_every_earlier_line_and_names_the_messages_version() {
        let mut h = HeaderMap::new();
        h.append(header::VIA, HeaderValue::from_static("1.0 a"));
        h.append(header::VIA, HeaderValue::from_bytes(b"1.1 \xffb").unwrap());
        h.append(header::VIA, HeaderValue::from_static("1.1 c"));
        add_via(&mut h, Version::HTTP_10, &config());
        // One line; a value that is not visible ASCII is dropped.
        assert_eq!(h.get_all(header::VIA).iter().count(), 1);
        assert_eq!(h[header::VIA], "1.0 a, 1.1 c, 1.0 rampart");
        let mut h = HeaderMap::new();
        add_via(&mut h, Version::HTTP_3, &config());
        assert_eq!(h[header::VIA], "3 rampart");
        let off = HeaderConfig {
            via: None,
            ..config()
        };
        add_via(&mut h, Version::HTTP_11, &off);
        assert_eq!(h[header::VIA], "3 rampart");
    }
}

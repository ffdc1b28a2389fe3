//! The client's address: the socket's, or the rightmost untrusted `X-Forwarded-For` hop when
//! the socket's peer is a trusted proxy.

use super::IpSet;
use http::HeaderMap;
use std::net::{IpAddr, SocketAddr};

/// The address filters, rate-limit keys and `consistent_hash: client_ip` see.
///
/// Only when `peer` is in `trusted` is `X-Forwarded-For` read, from the right (the last header
/// line's last entry first), skipping trusted hops: the first untrusted hop is the client. An
/// entry that does not parse as an IP (or `ip:port`) stops the walk, and the last trusted
/// address reached is used; when every hop is trusted, the leftmost one is. IPv4-mapped IPv6
/// is read as IPv4. Allocates nothing.
pub fn resolve(trusted: &IpSet, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
    let peer = peer.to_canonical();
    if trusted.is_empty() || !trusted.contains(peer) {
        return peer;
    }
    let mut last = peer;
    for value in headers.get_all("x-forwarded-for").iter().rev() {
        let Ok(text) = value.to_str() else {
            return last;
        };
        for hop in text.rsplit(',') {
            let Some(ip) = parse_hop(hop.trim()) else {
                return last;
            };
            if !trusted.contains(ip) {
                return ip;
            }
            last = ip;
        }
    }
    last
}

/// `1.2.3.4`, `2001:db8::1`, `1.2.3.4:5678` or `[2001:db8::1]:5678`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let ip = hop
        .parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))?;
    Some(ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trusted() -> IpSet {
        IpSet::new(&["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()])
    }

    fn resolve_with(peer: &str, xff: &[&str]) -> String {
        let mut headers = HeaderMap::new();
        for v in xff {
            headers.append("x-forwarded-for", v.parse().unwrap());
        }
        resolve(&trusted(), peer.parse().unwrap(), &headers).to_string()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        assert_eq!(resolve_with("192.0.2.1", &["198.51.100.9"]), "192.0.2.1");
        assert_eq!(resolve_with("::ffff:192.0.2.1", &[]), "192.0.2.1");
    }

    #[test]
    fn a_trusted_peer_yields_the_rightmost_untrusted_hop() {
        assert_eq!(resolve_with("10.0.0.1", &["198.51.100.9"]), "198.51.100.9");
        assert_eq!(
            resolve_with("10.0.0.1", &["6.6.6.6, 198.51.100.9, 10.0.0.2"]),
            "198.51.100.9",
            "a client-forged left part is ignored"
        );
        assert_eq!(
            resolve_with("::1", &["6.6.6.6", "198.51.100.9:4444, 10.1.1.1"]),
            "198.51.100.9",
            "several header lines read as one list; ip:port accepted"
        );
        assert_eq!(
            resolve_with("10.0.0.1", &["[2001:db8::7]:80"]),
            "2001:db8::7"
        );
        assert_eq!(
            resolve_with("10.0.0.1", &["::ffff:198.51.100.9"]),
            "198.51.100.9"
        );
    }

    #[test]
    fn garbage_or_all_trusted_hops_stop_at_the_last_trusted_address() {
        assert_eq!(resolve_with("10.0.0.1", &[]), "10.0.0.1");
        assert_eq!(resolve_with("10.0.0.1", &["unknown, 10.0.0.5"]), "10.0.0.5");
        assert_eq!(resolve_with("10.0.0.1", &["6.6.6.6,,10.0.0.5"]), "10.0.0.5");
        assert_eq!(
            resolve_with("10.0.0.1", &["10.0.0.9, 10.0.0.5"]),
            "10.0.0.9"
        );
    }
}

//! IP filters: `allow` / `deny` CIDR lists compiled into sorted, merged address ranges, so a
//! lookup is one binary search however long the lists are.

use ipnet::IpNet;
use std::net::IpAddr;

/// A set of addresses as sorted, disjoint, non-adjacent ranges (IPv4 and IPv6 apart).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpSet {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

impl IpSet {
    /// The set of every address in `nets`; an IPv4-mapped IPv6 network counts as IPv4.
    pub fn new(nets: &[IpNet]) -> Self {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for net in nets {
            match canonical_net(*net) {
                IpNet::V4(n) => v4.push((u32::from(n.network()), u32::from(n.broadcast()))),
                IpNet::V6(n) => v6.push((u128::from(n.network()), u128::from(n.broadcast()))),
            }
        }
        Self {
            v4: merge(v4),
            v6: merge(v6),
        }
    }

    /// True when no address is in the set.
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    /// True when `ip` (IPv4-mapped IPv6 read as IPv4) is in the set.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match ip.to_canonical() {
            IpAddr::V4(a) => find(&self.v4, u32::from(a)),
            IpAddr::V6(a) => find(&self.v6, u128::from(a)),
        }
    }

    /// How many ranges the lists compiled into.
    pub fn ranges(&self) -> usize {
        self.v4.len() + self.v6.len()
    }
}

/// What a listener does with a refused client.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OnDeny {
    /// Answer 403 `ip_denied`.
    #[default]
    Respond,
    /// Close the connection at accept, before reading a byte (judged on the socket address).
    Close,
}

/// A compiled `ip_filter`: deny wins; a non-empty allow list admits only its members.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpFilter {
    /// Addresses admitted (everyone when empty).
    pub allow: IpSet,
    /// Addresses refused, whatever `allow` says.
    pub deny: IpSet,
    /// Respond 403 or close at accept (listeners only; routes always respond).
    pub on_deny: OnDeny,
}

impl IpFilter {
    /// True when the filter lets `ip` in.
    pub fn admits(&self, ip: IpAddr) -> bool {
        !self.deny.contains(ip) && (self.allow.is_empty() || self.allow.contains(ip))
    }
}

/// `::ffff:a.b.c.d/n` (n ≥ 96) as the IPv4 network `a.b.c.d/(n-96)`.
fn canonical_net(net: IpNet) -> IpNet {
    if let IpNet::V6(n) = net
        && n.prefix_len() >= 96
        && let Some(v4) = n.network().to_ipv4_mapped()
        && let Ok(mapped) = ipnet::Ipv4Net::new(v4, n.prefix_len() - 96)
    {
        return IpNet::V4(mapped);
    }
    net
}

/// Sorts ranges and merges the overlapping and adjacent ones.
fn merge<T: Ord + Copy + Step>(mut ranges: Vec<(T, T)>) -> Vec<(T, T)> {
    ranges.sort_unstable();
    let mut out: Vec<(T, T)> = Vec::with_capacity(ranges.len());
    for (start, end) in ranges {
        match out.last_mut() {
            Some(last) if start <= last.1.next_or_max() => last.1 = last.1.max(end),
            _ => out.push((start, end)),
        }
    }
    out.shrink_to_fit();
    out
}

/// True when `x` lies in one of the sorted disjoint `ranges`.
fn find<T: Ord + Copy>(ranges: &[(T, T)], x: T) -> bool {
    let i = ranges.partition_point(|r| r.0 <= x);
    i > 0 && ranges[i - 1].1 >= x
}

/// The next integer, saturating: adjacency for merging.
trait Step {
    fn next_or_max(self) -> Self;
}

impl Step for u32 {
    fn next_or_max(self) -> Self {
        self.saturating_add(1)
    }
}

impl Step for u128 {
    fn next_or_max(self) -> Self {
        self.saturating_add(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(nets: &[&str]) -> IpSet {
        let nets: Vec<IpNet> = nets.iter().map(|n| n.parse().unwrap()).collect();
        IpSet::new(&nets)
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn cidrs_of_both_families_match_their_members_only() {
        let s = set(&["10.0.0.0/8", "192.168.1.7/32", "2001:db8::/32"]);
        assert!(s.contains(ip("10.255.255.255")));
        assert!(!s.contains(ip("11.0.0.0")));
        assert!(s.contains(ip("192.168.1.7")));
        assert!(!s.contains(ip("192.168.1.8")));
        assert!(s.contains(ip("2001:db8:ffff::1")));
        assert!(!s.contains(ip("2001:db9::")));
        assert!(
            s.contains(ip("::ffff:10.1.2.3")),
            "mapped IPv6 reads as IPv4"
        );
        assert!(set(&["::ffff:10.0.0.0/104"]).contains(ip("10.9.9.9")));
        assert!(set(&["0.0.0.0/0"]).contains(ip("255.255.255.255")));
        assert!(!set(&["0.0.0.0/0"]).contains(ip("::1")));
    }

    #[test]
    fn overlapping_and_adjacent_ranges_merge() {
        let s = set(&["10.0.0.0/24", "10.0.1.0/24", "10.0.0.128/25", "10.0.3.0/24"]);
        assert_eq!(s.ranges(), 2);
        assert!(s.contains(ip("10.0.1.255")));
        assert!(!s.contains(ip("10.0.2.0")));
    }

    #[test]
    fn deny_wins_and_an_empty_allow_list_admits_everyone() {
        let f = IpFilter {
            allow: set(&["127.0.0.0/8"]),
            deny: set(&["127.0.0.3/32"]),
            on_deny: OnDeny::Respond,
        };
        assert!(f.admits(ip("127.0.0.2")));
        assert!(!f.admits(ip("127.0.0.3")));
        assert!(!f.admits(ip("10.0.0.1")));
        let open = IpFilter {
            deny: set(&["10.0.0.0/8"]),
            ..IpFilter::default()
        };
        assert!(open.admits(ip("8.8.8.8")));
        assert!(!open.admits(ip("10.1.1.1")));
    }

    proptest::proptest! {
        /// The compiled ranges agree with a linear scan of the CIDRs.
        #[test]
        fn agrees_with_a_linear_scan(nets in proptest::collection::vec((proptest::prelude::any::<u32>(), 8u8..=32), 0..40), probes in proptest::collection::vec(proptest::prelude::any::<u32>(), 50)) {
            let nets: Vec<IpNet> = nets
                .into_iter()
                .map(|(a, p)| IpNet::V4(ipnet::Ipv4Net::new(a.into(), p).unwrap().trunc()))
                .collect();
            let s = IpSet::new(&nets);
            for (i, p) in probes.into_iter().enumerate() {
                // Probe near a network's edges as well as at random.
                let x = match nets.get(i % nets.len().max(1)) {
                    Some(IpNet::V4(n)) if i % 3 == 0 => u32::from(n.broadcast()).wrapping_add(1),
                    Some(IpNet::V4(n)) if i % 3 == 1 => u32::from(n.network()),
                    _ => p,
                };
                let a = IpAddr::V4(x.into());
                proptest::prop_assert_eq!(s.contains(a), nets.iter().any(|n| n.contains(&a)));
            }
        }
    }
}

//! A fixed, seedless 64-bit hash: the same bytes give the same value in every build, on every
//! machine and across restarts (unlike `std`'s `DefaultHasher`, whose algorithm may change).

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0100_0000_01b3;

/// FNV-1a over `bytes` from `seed`, then the murmur3 finaliser so that inputs differing in one
/// byte (addresses `…:9001`, `…:9002`) land far apart.
pub(super) fn hash64(seed: u64, bytes: &[u8]) -> u64 {
    let mut h = FNV_OFFSET ^ seed;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    fmix64(h)
}

fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_pinned() {
        // These must never change: they decide which backend a key goes to after an upgrade.
        assert_eq!(hash64(0, b""), fmix64(FNV_OFFSET));
        assert_eq!(hash64(0, b"a"), fmix64(0xaf63_dc4c_8601_ec8c));
        assert_ne!(hash64(0, b"10.0.0.1:9001"), hash64(0, b"10.0.0.1:9002"));
        assert_ne!(hash64(1, b"x"), hash64(2, b"x"));
    }
}

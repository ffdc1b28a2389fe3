//! The deterministic byte pattern served by `/bytes/{n}`, so clients can check what arrived.
//!
//! Byte `i` is byte `i % 8` (little endian) of `splitmix64(i / 8)`: cheap to generate at any
//! offset, and not periodic, so reordered or repeated chunks change the checksum.

use sha2::{Digest as _, Sha256};

/// Size of the pieces the pattern is generated and hashed in.
pub(crate) const CHUNK: usize = 64 * 1024;

/// `len` bytes of the pattern starting at byte `offset`.
pub fn bytes(offset: u64, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut at = offset;
    while out.len() < len {
        let block = splitmix64(at / 8).to_le_bytes();
        let start = (at % 8) as usize;
        let take = (8 - start).min(len - out.len());
        out.extend_from_slice(&block[start..start + take]);
        at += take as u64;
    }
    out
}

/// Lowercase hex SHA-256 of the first `n` bytes of the pattern.
pub fn sha256_hex(n: u64) -> String {
    let mut hasher = Sha256::new();
    let mut offset = 0;
    while offset < n {
        let len = (n - offset).min(CHUNK as u64) as usize;
        hasher.update(bytes(offset, len));
        offset += len as u64;
    }
    hex::encode(hasher.finalize())
}

fn splitmix64(index: u64) -> u64 {
    let mut z = index.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_offset_matches_the_whole() {
        let whole = bytes(0, 1000);
        for (offset, len) in [(0, 7), (3, 17), (8, 8), (13, 500), (999, 1)] {
            assert_eq!(bytes(offset as u64, len), whole[offset..offset + len]);
        }
    }

    #[test]
    fn hash_of_chunks_equals_hash_of_whole() {
        let n = CHUNK as u64 * 2 + 123;
        let whole = bytes(0, n as usize);
        assert_eq!(sha256_hex(n), hex::encode(Sha256::digest(&whole)));
    }
}

//! Deterministic large payloads, generated and hashed chunk by chunk (never held whole).

use bytes::Bytes;
use futures_util::Stream;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// Size of one generated chunk.
pub const CHUNK: usize = 64 * 1024;

/// One MiB.
pub const MIB: u64 = 1024 * 1024;

/// The `index`-th chunk of a payload of `total` bytes (the last one may be short): a fixed
/// pseudo-random block whose first eight bytes are the chunk index, so no two chunks match.
pub fn chunk(index: u64, total: u64) -> Bytes {
    static BLOCK: OnceLock<Vec<u8>> = OnceLock::new();
    let block = BLOCK.get_or_init(|| {
        let mut x: u32 = 0x9E37_79B9;
        (0..CHUNK)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect()
    });
    let start = index * CHUNK as u64;
    let len = (total - start).min(CHUNK as u64) as usize;
    let mut buf = block[..len].to_vec();
    let seed = index.to_be_bytes();
    let n = len.min(8);
    buf[..n].copy_from_slice(&seed[..n]);
    Bytes::from(buf)
}

/// How many chunks a payload of `total` bytes has.
pub fn chunks(total: u64) -> u64 {
    total.div_ceil(CHUNK as u64)
}

/// The payload of `total` bytes as a stream of chunks.
pub fn stream(total: u64) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    futures_util::stream::iter((0..chunks(total)).map(move |i| Ok(chunk(i, total))))
}

/// The hex sha256 of the payload of `total` bytes.
pub fn sha256(total: u64) -> String {
    let mut hasher = Sha256::new();
    for i in 0..chunks(total) {
        hasher.update(chunk(i, total));
    }
    hex::encode(hasher.finalize())
}

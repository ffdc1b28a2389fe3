//! End-to-end tests across the Rampart crates; the tests live in `tests/tests/`.
//!
//! Support shared by those tests: a small hyper test backend ([`backend`]), deterministic
//! payloads hashed incrementally ([`payload`]), proxy start-up helpers ([`harness`]), TLS
//! certificates, clients and a TLS backend ([`tls`]), a WebSocket backend that records the
//! closes it gets ([`ws`]) and a Prometheus text checker ([`prom`]).
#![forbid(unsafe_code)]

pub mod backend;
pub mod chromium;
pub mod harness;
pub mod payload;
pub mod prom;
pub mod raw;
pub mod tls;
pub mod ws;

/// The hex sha256 of `bytes`.
pub fn payload_sha(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

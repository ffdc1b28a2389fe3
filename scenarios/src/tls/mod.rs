//! TLS for suites: certificates generated with rcgen at run time (`proxy.tls`), and the
//! runner's own handshakes behind the `tls` check.

mod client;
mod legacy;
mod material;

pub use client::{Attempt, LegacyAnswer, TlsObservation, observe};
pub use legacy::legacy_client_hello;
pub use material::{CLIENT_SUBJECT, TlsFiles};

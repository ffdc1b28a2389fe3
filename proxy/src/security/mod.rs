//! The front door: what the proxy refuses before a request reaches a backend, and how each
//! refusal is counted and logged.

mod reject_log;
pub mod tls;

pub use reject_log::RejectLog;

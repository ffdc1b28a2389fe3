//! The front door: what the proxy refuses before a request reaches a backend, and how each
//! refusal is counted and logged.

pub mod body_limit;
pub mod framing;
pub mod path;
mod reject_log;
mod validate;

pub use body_limit::{BodyRejection, BodyRules, Guarded};
pub use reject_log::RejectLog;
pub(crate) use validate::{Refusal, broken_body, check_request, check_route};

//! The front door: what the proxy refuses before a request reaches a backend, and how each
//! refusal is counted and logged.
//!
//! Access control (this module's `client_ip`, `ip_filter`, `rate_limit`, `conn_limit`):
//! the client address through trusted proxies, IP filters per listener and route, rate limits
//! per route and the per-IP connection cap. `checks` holds the calls the accept loop and the
//! handler make, in the order they make them.

mod checks;
pub mod client_ip;
mod conn_limit;
mod ip_filter;
pub mod rate_limit;
mod reject_log;
mod state;

pub use checks::{Refused, admit_connection, check_listener, check_route};
pub use conn_limit::{ConnCounter, ConnGuard};
pub use ip_filter::{IpFilter, IpSet, OnDeny};
pub use reject_log::RejectLog;
pub use state::AccessState;

//! The front door: what the proxy refuses before a request reaches a backend, and how each
//! refusal is counted and logged.
//!
//! Access control (`client_ip`, `ip_filter`, `rate_limit`, `conn_limit`): the client address
//! through trusted proxies, IP filters per listener and route, rate limits per route and the
//! per-IP connection cap. `checks` holds the calls the accept loop and the handler make, in
//! the order they make them.
//!
//! Request validation (`framing`, `path`, `body_limit`, `validate`): HTTP/1 framing followed
//! below hyper, path normalisation, methods and body limits per route.

pub mod body_limit;
mod checks;
pub mod client_ip;
mod conn_limit;
pub mod framing;
mod ip_filter;
pub mod path;
pub mod rate_limit;
mod reject_log;
mod state;
pub mod tls;
mod validate;

pub use body_limit::{BodyRejection, BodyRules, Guarded};
pub use checks::{Refused, admit_connection, check_listener, check_route};
pub use conn_limit::{ConnCounter, ConnGuard};
pub use ip_filter::{IpFilter, IpSet, OnDeny};
pub use reject_log::RejectLog;
pub use state::AccessState;
pub(crate) use validate::{Refusal, broken_body, check_request, check_route as check_route_rules};

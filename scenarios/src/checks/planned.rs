//! Check kinds designed before the feature they check is built. Such a kind parses, so suites
//! can be written against the final format, but validation refuses it with the feature it
//! waits for (`Planned::waits_for`), and evaluating it always fails.
//!
//! None is planned in this build: `websocket` and `sse` became real checks when the proxy
//! learned WebSockets and SSE. When a feature is designed ahead again, its check kind
//! implements this trait and `CheckSpec::planned` names it.

/// A check kind whose feature is not part of this build.
pub trait Planned {
    /// The feature (and issue) the check waits for, e.g. `HTTP/3 (the QUIC issue)`.
    fn waits_for(&self) -> &'static str;
}

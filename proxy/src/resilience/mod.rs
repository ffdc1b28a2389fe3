//! Resilience: a circuit breaker per backend, retries within a budget, and fallbacks.
//!
//! Everything here is pure state and policy with time passed in; the request path asks and
//! records, the admin API and metrics read snapshots.

pub mod breaker;
pub mod fallback;
pub mod log;
pub mod retry;

pub use breaker::{
    BreakerGuard, BreakerSnapshot, CallOutcome, CircuitBreaker, NotPermitted, Permit, State,
    Transition, TransitionListener,
};
pub use fallback::static_response;
pub use log::TransitionLog;
pub use retry::{RetryBudget, RetryPolicy};

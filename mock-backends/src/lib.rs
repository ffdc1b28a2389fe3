//! Mock HTTP backends that fail on purpose, on command: latency, errors, broken connections,
//! slow bodies and failing health, set at start and changed live; endpoints for echo, sized
//! bodies with checksums, uploads, WebSocket echo and resumable SSE streams.
//!
//! ```no_run
//! # async fn demo() -> Result<(), mock_backends::Error> {
//! use mock_backends::{Behavior, MockBackend};
//! let backend = MockBackend::spawn(Behavior::default()).await?;
//! println!("{} listens on {}", backend.id(), backend.addr());
//! backend.set_behavior(Behavior::from_yaml("error: { status: 503, rate: 0.5 }")?)?;
//! backend.shutdown().await;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod behavior;
mod body;
mod conn;
mod duration;
mod endpoints;
mod error;
mod faults;
mod fleet;
mod latency;
pub mod pattern;
pub mod redis;
mod server;
mod service;
mod state;
mod stats;

pub use behavior::{
    Behavior, BehaviorError, DisconnectFault, DisconnectKind, DribbleFault, ErrorFault, Health,
    HealthState, LatencyFault, SseSettings,
};
pub use endpoints::bytes::CONTENT_SHA256_HEADER;
pub use error::Error;
pub use fleet::{BackendSpec, FleetConfig, MockFleet};
pub use latency::Distribution;
pub use server::{BackendConfig, MockBackend, MockHandle};
pub use service::BACKEND_ID_HEADER;
pub use stats::StatsSnapshot;

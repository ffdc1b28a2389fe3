//! Long-lived exchanges: WebSocket upgrades relayed frame by frame, Server-Sent Events streamed
//! event by event with failover, and the registry that keeps both alive across reloads and
//! ends them cleanly on shutdown.

pub mod sse;
pub mod streams;
pub mod websocket;

pub use streams::{OpenStream, RouteSlot, StreamKind, Streams};

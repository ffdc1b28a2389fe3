//! Long-lived exchanges: WebSocket upgrades relayed frame by frame, Server-Sent Events streamed
//! event by event with failover, and the registry that keeps both alive across reloads and
//! ends them cleanly on shutdown.

pub mod sse;
pub mod streams;
pub mod websocket;

pub use streams::{OpenStream, RouteSlot, StreamKind, Streams};

use std::cell::RefCell;

/// Bytes a stream relay reads per call.
const READ_SIZE: usize = 16 * 1024;

thread_local! {
    /// The read buffer every stream relay on this worker thread shares (reads never overlap),
    /// so an idle stream holds no read buffer of its own.
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(vec![0; READ_SIZE]);
}

/// Runs `f` with this thread's read buffer.
pub(crate) fn with_scratch<R>(f: impl FnOnce(&mut [u8]) -> R) -> R {
    SCRATCH.with_borrow_mut(|s| f(s))
}

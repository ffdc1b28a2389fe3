//! Crate tests over real sockets on 127.0.0.1, all in one test binary.

mod common;
mod control;
mod endpoints;
mod faults;
mod fleet;
mod latency;
mod sse;
mod ws;

//! Rampart: a reverse proxy that holds under failure.
//!
//! The library is what the `rampart` binary runs; tests and the scenario runner start the same
//! [`Proxy`] in-process on `127.0.0.1:0` and read back the bound addresses.
#![forbid(unsafe_code)]

pub mod config;

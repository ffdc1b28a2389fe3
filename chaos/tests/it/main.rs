//! The chaos crate over real sockets: every toxic measured from both ends of a TCP connection,
//! the HTTP API driven with Toxiproxy's README bodies, and a published Toxiproxy client.

mod api;
mod http_toxics;
mod lifecycle;
mod python_client;
mod support;
mod toxics;

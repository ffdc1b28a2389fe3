//! loadgen integration tests against in-process servers on 127.0.0.1:0 (one test binary).

mod cli;
mod common;
mod http;
mod open;
mod protocols;
mod schema;
mod security;

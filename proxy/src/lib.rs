//! Rampart: a reverse proxy that holds under failure.
//!
//! The library is what the `rampart` binary runs; tests and the scenario runner start the same
//! [`Proxy`] in-process on `127.0.0.1:0` and read back the bound addresses:
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use proxy::{ConfigSource, Proxy};
//! let yaml = r#"
//! listeners: [{ name: http, bind: "127.0.0.1:0" }]
//! admin: { bind: "127.0.0.1:0" }
//! upstreams: { api: { backends: [{ address: "127.0.0.1:9001" }] } }
//! routes: [{ upstream: api }]
//! "#;
//! let handle = Proxy::start(ConfigSource::Inline(yaml.into())).await?;
//! println!("proxy on {}", handle.first_addr());
//! handle.shutdown().await;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod admin;
pub mod admin_client;
pub mod backend;
pub mod balance;
pub mod config;
pub mod forward;
pub mod health;
pub mod observe;
pub mod resilience;
pub mod route;
pub mod security;
pub mod server;
mod text;
pub mod upgrade;
pub mod upstream;

pub use config::{Config, ConfigError, ConfigSource};
pub use server::{Proxy, ProxyHandle, StartError};

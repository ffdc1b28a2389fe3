//! The library's error type.

use std::net::SocketAddr;

use crate::behavior::BehaviorError;

/// Why a backend or fleet could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The behaviour is invalid.
    #[error(transparent)]
    Behavior(#[from] BehaviorError),
    /// The fleet description is invalid.
    #[error("invalid fleet config: {0}")]
    Fleet(String),
}

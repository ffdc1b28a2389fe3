//! The client side of `rampart drain`: `POST /admin/drain` to a running proxy's admin
//! listener, and optionally wait until that listener stops answering (the drain is over).
//! Plain blocking HTTP/1.1 with timeouts: it runs as a Kubernetes `preStop` hook, once.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// Why the drain request failed.
#[derive(Debug, thiserror::Error)]
pub enum DrainRequestError {
    /// `HOST:PORT` did not resolve.
    #[error("cannot resolve {admin:?}: {source}")]
    Resolve {
        /// What was given.
        admin: String,
        /// The resolver's error.
        source: std::io::Error,
    },
    /// Connecting, writing or reading failed.
    #[error("admin listener {addr}: {source}")]
    Io {
        /// The address tried.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The answer was not an HTTP response.
    #[error("admin listener {addr} did not answer with HTTP")]
    NotHttp {
        /// The address tried.
        addr: SocketAddr,
    },
    /// The drain was not accepted (anything but 202).
    #[error("admin listener {addr} answered {status}: {body}")]
    Refused {
        /// The address tried.
        addr: SocketAddr,
        /// The status.
        status: u16,
        /// The body.
        body: String,
    },
    /// `--wait` ran out before the admin listener stopped answering.
    #[error("admin listener {addr} still answers after {waited:?}")]
    StillRunning {
        /// The address polled.
        addr: SocketAddr,
        /// How long it was waited for.
        waited: Duration,
    },
}

/// Resolves `admin` (`HOST:PORT`) to its first address.
pub fn resolve(admin: &str) -> Result<SocketAddr, DrainRequestError> {
    let resolve_err = |source| DrainRequestError::Resolve {
        admin: admin.to_owned(),
        source,
    };
    admin
        .to_socket_addrs()
        .map_err(resolve_err)?
        .next()
        .ok_or_else(|| resolve_err(std::io::Error::other("no address")))
}

/// POSTs `/admin/drain`; returns the JSON body of the 202.
pub fn request_drain(addr: SocketAddr, timeout: Duration) -> Result<String, DrainRequestError> {
    let io = |source| DrainRequestError::Io { addr, source };
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(io)?;
    stream.set_read_timeout(Some(timeout)).map_err(io)?;
    stream.set_write_timeout(Some(timeout)).map_err(io)?;
    let head = format!(
        "POST /admin/drain HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).map_err(io)?;
    let mut answer = Vec::new();
    // Bounded: the admin API closes after `Connection: close`; at most 64 KiB is read.
    stream
        .take(64 * 1024)
        .read_to_end(&mut answer)
        .map_err(io)?;
    let text = String::from_utf8_lossy(&answer);
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or(DrainRequestError::NotHttp { addr })?;
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .trim()
        .to_owned();
    if status == 202 {
        Ok(body)
    } else {
        Err(DrainRequestError::Refused { addr, status, body })
    }
}

/// Polls until nothing accepts connections on `addr` any more (the drain finished and the
/// admin listener closed), for at most `bound`.
pub fn wait_until_closed(addr: SocketAddr, bound: Duration) -> Result<(), DrainRequestError> {
    let start = Instant::now();
    let step = Duration::from_millis(100);
    while start.elapsed() < bound {
        match TcpStream::connect_timeout(&addr, step) {
            Ok(_) => std::thread::sleep(step),
            Err(_) => return Ok(()),
        }
    }
    Err(DrainRequestError::StillRunning {
        addr,
        waited: bound,
    })
}

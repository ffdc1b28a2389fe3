//! Worker threads: each runs its own single-threaded event loop with its own listening socket
//! (SO_REUSEPORT, so the kernel spreads connections; `spread.rs` evens out what the kernel's
//! hash leaves uneven, at accept) and its own upstream pools, so a request is served start to
//! end on one thread with no cross-thread wake-ups.

use super::spread::{Inbox, Spread};
use super::{Shared, listener};
use socket2::{Domain, Protocol, Socket, Type};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

/// The accept queue asked of the kernel per worker socket (capped by `net.core.somaxconn`).
const LISTEN_BACKLOG: i32 = 8192;

/// Binds `count` sockets to `addr` with SO_REUSEPORT; port 0 is resolved by the first bind
/// and reused by the rest.
///
/// SO_REUSEPORT would also let a second process (a second Rampart started by mistake) join
/// the group and silently take a share of the traffic. So the port is first claimed by a
/// probe socket *without* SO_REUSEPORT: if anything holds the port, that bind fails with
/// "address in use"; the probe is closed and the workers' group binds the port it found free.
pub(crate) fn bind_group(
    addr: SocketAddr,
    count: usize,
) -> std::io::Result<(SocketAddr, Vec<std::net::TcpListener>)> {
    let mut bound = exclusive_probe(addr)?;
    let mut sockets = Vec::with_capacity(count);
    for _ in 0..count.max(1) {
        let socket = Socket::new(
            Domain::for_address(bound),
            Type::STREAM,
            Some(Protocol::TCP),
        )?;
        socket.set_reuse_address(true)?;
        socket.set_reuse_port(true)?;
        socket.set_nonblocking(true)?;
        socket.set_tcp_nodelay(true)?;
        socket.bind(&bound.into())?;
        // A burst of connects (10,000 at once) overflows a short queue and each overflowing
        // SYN waits 1 s, then 3 s, for its retransmit; the kernel caps this at somaxconn.
        socket.listen(LISTEN_BACKLOG)?;
        let listener: std::net::TcpListener = socket.into();
        bound = listener.local_addr()?;
        sockets.push(listener);
    }
    Ok((bound, sockets))
}

/// Binds `addr` once without SO_REUSEPORT and returns the address it got (the real port for
/// port 0); fails with `AddrInUse` when another socket, ours or another process's, holds it.
fn exclusive_probe(addr: SocketAddr) -> std::io::Result<SocketAddr> {
    let probe = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // SO_REUSEADDR only lets a port in TIME_WAIT be bound again; it does not share a listener.
    probe.set_reuse_address(true)?;
    probe.bind(&addr.into())?;
    let got = probe
        .local_addr()?
        .as_socket()
        .ok_or_else(|| std::io::Error::other("bound socket has no IP address"))?;
    Ok(got)
}

/// One worker's socket of a listener, with the listener's [`Spread`] and the worker's inbox.
pub(crate) struct WorkerSocket {
    /// The worker's own SO_REUSEPORT socket.
    pub(crate) listener: std::net::TcpListener,
    /// The listener's workers and their loads.
    pub(crate) spread: Arc<Spread>,
    /// Connections the other workers handed to this one.
    pub(crate) inbox: Inbox,
}

/// Starts worker thread `index` serving `listeners`; the receiver fires when it has drained.
pub(crate) fn spawn(
    index: usize,
    listeners: Vec<WorkerSocket>,
    shared: Arc<Shared>,
    stop: CancellationToken,
    drain: Duration,
) -> std::io::Result<oneshot::Receiver<()>> {
    let (done, finished) = oneshot::channel();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name(format!("rampart-worker-{index}"))
        .spawn(move || {
            runtime.block_on(async move {
                let mut serving = Vec::with_capacity(listeners.len());
                for (listener_index, socket) in listeners.into_iter().enumerate() {
                    match tokio::net::TcpListener::from_std(socket.listener) {
                        Ok(l) => serving.push(tokio::spawn(listener::run(
                            l,
                            listener::Peers {
                                spread: socket.spread,
                                inbox: socket.inbox,
                            },
                            Arc::clone(&shared),
                            stop.clone(),
                            drain,
                            index,
                            listener_index,
                        ))),
                        Err(e) => {
                            tracing::error!(worker = index, error = %e, "cannot register listener")
                        }
                    }
                }
                for task in serving {
                    let _ = task.await;
                }
            });
            // Dropping the runtime here ends the idle pooled upstream connections of this worker.
            drop(runtime);
            let _ = done.send(());
        })?;
    Ok(finished)
}

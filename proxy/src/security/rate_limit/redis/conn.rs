//! One pipelined connection to Redis, run by its own task: commands arrive on a channel, are
//! written as they come (several per write when they queue up) and their replies are matched
//! in order. A lost connection fails what was in flight and is made again with backoff;
//! while it is down, commands fail at once instead of waiting.

use super::resp::{self, Value};
use super::{Shared, StoreError};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, sleep, sleep_until, timeout};

/// Longest wait for the TCP connection and the handshake.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// First and longest pause between connection attempts.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(50), Duration::from_secs(2));
/// A reply this late means the connection is stuck: it is dropped and made again.
const STUCK: Duration = Duration::from_secs(2);
/// Commands in flight on one connection at most; more fail as `overloaded`.
pub(super) const MAX_PENDING: usize = 1024;

/// One command and where its reply goes.
pub(super) struct Command {
    /// The encoded command.
    pub(super) bytes: Vec<u8>,
    /// The reply (or why there is none).
    pub(super) reply: oneshot::Sender<Result<Value, StoreError>>,
}

/// Runs the connection until every sender of `rx` is gone.
pub(super) async fn run(shared: Arc<Shared>, mut rx: mpsc::Receiver<Command>) {
    let mut backoff = BACKOFF.0;
    loop {
        match timeout(CONNECT_TIMEOUT, connect(&shared)).await {
            Ok(Ok(stream)) => {
                backoff = BACKOFF.0;
                if serve(stream, &mut rx).await.is_err() {
                    return;
                }
                tracing::debug!(store = %shared.url, "Redis connection lost; reconnecting");
            }
            Ok(Err(e)) => tracing::debug!(store = %shared.url, error = %e, "Redis connect failed"),
            Err(_) => tracing::debug!(store = %shared.url, "Redis connect timed out"),
        }
        // Until the next attempt, commands fail at once.
        let pause = sleep(backoff);
        tokio::pin!(pause);
        loop {
            tokio::select! {
                () = &mut pause => break,
                cmd = rx.recv() => match cmd {
                    Some(c) => { let _ = c.reply.send(Err(StoreError::Disconnected)); }
                    None => return,
                },
            }
        }
        backoff = (backoff * 2).min(BACKOFF.1);
    }
}

/// Connects and logs in: `AUTH`, `SELECT`, and `SCRIPT LOAD` (which gives the script's SHA1
/// for `EVALSHA`).
async fn connect(shared: &Shared) -> Result<TcpStream, StoreError> {
    let url = &shared.url;
    let mut stream = TcpStream::connect((url.host.as_str(), url.port))
        .await
        .map_err(|e| StoreError::Io(e.kind()))?;
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::new();
    if let Some(pass) = &url.password {
        match &url.username {
            Some(user) => {
                call(
                    &mut stream,
                    &mut buf,
                    &[b"AUTH", user.as_bytes(), pass.as_bytes()],
                )
                .await?
            }
            None => call(&mut stream, &mut buf, &[b"AUTH", pass.as_bytes()]).await?,
        };
    }
    if url.db != 0 {
        call(
            &mut stream,
            &mut buf,
            &[b"SELECT", url.db.to_string().as_bytes()],
        )
        .await?;
    }
    if let Value::Bulk(Some(sha)) = call(
        &mut stream,
        &mut buf,
        &[b"SCRIPT", b"LOAD", super::script::GCRA.as_bytes()],
    )
    .await?
        && let Ok(sha) = String::from_utf8(sha)
    {
        let _ = shared.sha.set(sha);
    }
    Ok(stream)
}

/// One command and its reply, unpipelined (the handshake); an error reply is an error.
async fn call(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    args: &[&[u8]],
) -> Result<Value, StoreError> {
    let mut out = Vec::new();
    resp::encode(&mut out, args);
    stream
        .write_all(&out)
        .await
        .map_err(|e| StoreError::Io(e.kind()))?;
    buf.clear();
    loop {
        if let Some((v, _)) = resp::parse(buf)? {
            return match v {
                Value::Error(e) => Err(StoreError::Reply(e)),
                v => Ok(v),
            };
        }
        let mut chunk = [0u8; 512];
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| StoreError::Io(e.kind()))?;
        if n == 0 {
            return Err(StoreError::Disconnected);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Pipelines commands until the connection fails (`Ok`) or the channel closes (`Err`).
async fn serve(stream: TcpStream, rx: &mut mpsc::Receiver<Command>) -> Result<(), ()> {
    let (mut rd, mut wr) = stream.into_split();
    let mut pending: VecDeque<(Instant, oneshot::Sender<Result<Value, StoreError>>)> =
        VecDeque::new();
    let mut rbuf: Vec<u8> = Vec::with_capacity(4096);
    let mut wbuf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = vec![0u8; 16 * 1024];
    let fail = |pending: &mut VecDeque<(Instant, _)>, e: StoreError| {
        for (_, tx) in pending.drain(..) {
            let _ = oneshot::Sender::send(tx, Err(e.clone()));
        }
    };
    loop {
        let stuck_at = pending.front().map(|(t, _)| *t + STUCK);
        tokio::select! {
            cmd = rx.recv() => {
                let Some(cmd) = cmd else {
                    fail(&mut pending, StoreError::Disconnected);
                    return Err(());
                };
                wbuf.clear();
                let mut next = Some(cmd);
                while let Some(c) = next.take() {
                    if pending.len() >= MAX_PENDING {
                        let _ = c.reply.send(Err(StoreError::Overloaded));
                    } else {
                        wbuf.extend_from_slice(&c.bytes);
                        pending.push_back((Instant::now(), c.reply));
                    }
                    if wbuf.len() < 64 * 1024 {
                        next = rx.try_recv().ok();
                    }
                }
                if let Err(e) = wr.write_all(&wbuf).await {
                    fail(&mut pending, StoreError::Io(e.kind()));
                    return Ok(());
                }
            }
            n = rd.read(&mut chunk) => {
                let n = match n {
                    Ok(0) => { fail(&mut pending, StoreError::Disconnected); return Ok(()); }
                    Err(e) => { fail(&mut pending, StoreError::Io(e.kind())); return Ok(()); }
                    Ok(n) => n,
                };
                rbuf.extend_from_slice(&chunk[..n]);
                let mut used = 0;
                loop {
                    match resp::parse(&rbuf[used..]) {
                        Ok(Some((v, len))) => {
                            used += len;
                            match pending.pop_front() {
                                Some((_, tx)) => { let _ = tx.send(Ok(v)); }
                                None => {
                                    // A reply nobody asked for: the stream is out of step.
                                    return Ok(());
                                }
                            }
                        }
                        Ok(None) => break,
                        Err(e) => { fail(&mut pending, e.into()); return Ok(()); }
                    }
                }
                rbuf.drain(..used);
            }
            () = async { sleep_until(stuck_at.unwrap_or_else(Instant::now)).await }, if stuck_at.is_some() => {
                fail(&mut pending, StoreError::Timeout);
                return Ok(());
            }
        }
    }
}

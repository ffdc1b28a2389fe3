//! Serving one accepted connection: plain (HTTP/1.1, parked in the listener's lot between
//! requests when idle, or h2c) or decrypted TLS; every hyper connection watched for the drain.

use super::Shared;
use super::handler::{self, ConnInfo};
use super::handoff::{self, Handoff, Written};
use super::park::{Activity, OpenBody, PARK_AFTER, Parkable, Parked};
use crate::forward::ProxyBody;
use crate::security::framing::{HeadLimits, Validated, Verdict};
use crate::security::tls::PeerSubject;
use http::header::{CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{Method, Request, Response, Version};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulConnection;
use std::convert::Infallible;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

/// The error a connection ends with.
pub(crate) type ConnError = Box<dyn std::error::Error + Send + Sync>;

/// How a connection ended, for the listener's log and metrics.
pub(crate) enum Ended {
    /// Closed normally (client, keep-alive end, drain).
    Closed,
    /// No request head within `server.header_read_timeout`.
    HeadTimeout,
    /// hyper or the stream failed.
    Failed(ConnError),
}

impl From<Result<(), ConnError>> for Ended {
    fn from(r: Result<(), ConnError>) -> Self {
        match r {
            Ok(()) => Ended::Closed,
            Err(e) if e.is::<HeadTimedOut>() => Ended::HeadTimeout,
            Err(e) => match e.downcast_ref::<hyper::Error>() {
                Some(h) if h.is_timeout() => Ended::HeadTimeout,
                _ => Ended::Failed(e),
            },
        }
    }
}

/// What every connection of a listener is served with.
#[derive(Clone)]
pub(crate) struct Context {
    /// The connection's addresses and listener.
    pub(crate) info: ConnInfo,
    /// The proxy's shared state.
    pub(crate) shared: Arc<Shared>,
    /// The request head limits the framing validator enforces.
    pub(crate) limits: HeadLimits,
    /// `server.header_read_timeout`: also the wait for the next head of a keep-alive
    /// connection, parked or not.
    pub(crate) header_read: Duration,
    /// Fired when the listener stops (the drain): idle connections close, busy ones finish.
    pub(crate) stop: CancellationToken,
}

/// What a plain connection's task ends with.
pub(crate) enum Served {
    /// The connection is over.
    Ended(Ended),
    /// The connection went quiet between two HTTP/1 requests: it waits in the listener's lot,
    /// out of hyper and out of this task.
    Parked(Parked),
    /// A response left hyper (see `handoff.rs`): the task writes it with [`write_handed`]
    /// once the hyper connection's future is freed.
    Handed(Box<Handed>),
}

/// Serves a new plain connection: HTTP/1.1 or h2c. Until its first byte arrives it holds
/// only the socket, outside hyper; once quiet for [`PARK_AFTER`] between two HTTP/1 requests,
/// it leaves the task parked.
///
/// Its future is the connection task's, so it is kept small (it is what a new connection
/// waiting for its first byte costs): `cx` is borrowed from the task, the wait polls the
/// socket's readiness without a future of its own, and hyper's connection is boxed.
pub(crate) async fn serve_plain(
    builder: &auto::Builder<TokioExecutor>,
    stream: TcpStream,
    cx: &Context,
) -> Served {
    let deadline = Instant::now() + cx.header_read;
    tokio::select! {
        biased;
        () = cx.stop.cancelled() => return Served::Ended(Ended::Closed),
        ready = std::future::poll_fn(|c| stream.poll_read_ready(c)) => {
            if let Err(e) = ready {
                return Served::Ended(Ended::Failed(e.into()));
            }
        }
        () = tokio::time::sleep_until(deadline) => return Served::Ended(Ended::HeadTimeout),
    }
    let verdict = Arc::new(Verdict::default());
    let io = validated(stream, cx, Arc::clone(&verdict), 0);
    let activity = Arc::new(Activity::default());
    Box::pin(serve_h1(builder, io, verdict, activity, deadline, cx)).await
}

/// Serves a parked connection whose next request has begun to arrive.
pub(crate) async fn serve_parked(
    builder: &auto::Builder<TokioExecutor>,
    parked: Parked,
    cx: &Context,
) -> Served {
    // The handler numbers every request it is handed, and a connection parks only when all
    // it read were handed over: both counts are `requests`.
    let verdict = Arc::new(Verdict::resumed(parked.requests));
    let io = validated(parked.stream, cx, Arc::clone(&verdict), parked.requests);
    let activity = Arc::new(Activity::resumed(parked.requests));
    Box::pin(serve_h1(
        builder,
        io,
        verdict,
        activity,
        parked.deadline,
        cx,
    ))
    .await
}

/// A response that left hyper, and the connection it is written on.
pub(crate) struct Handed {
    stream: TcpStream,
    requests: u64,
    body: ProxyBody,
}

/// One hyper HTTP/1 connection on a readable stream, until it ends or parks.
async fn serve_h1(
    builder: &auto::Builder<TokioExecutor>,
    io: Validated<TcpStream>,
    verdict: Arc<Verdict>,
    activity: Arc<Activity>,
    deadline: Instant,
    cx: &Context,
) -> Served {
    let slot = Arc::new(Mutex::new(None));
    activity.allow_handoff();
    let parkable = Parkable::new(io, Arc::clone(&activity), Arc::clone(&slot));
    let conn = h1_connection(builder, parkable, deadline, cx, &verdict, &activity);
    let plain = Plain {
        activity: &activity,
        verdict: &verdict,
        head_by: deadline,
    };
    let (result, quiet_since) = watch(conn, &cx.stop, Some(plain)).await;
    let back = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
    if activity.handed() {
        let body = activity.take_handoff().and_then(|h| h.take());
        return match (back.and_then(Validated::into_idle), body) {
            (Some((stream, requests)), Some(body)) => Served::Handed(Box::new(Handed {
                stream,
                requests,
                body,
            })),
            _ => Served::Ended(Ended::Closed),
        };
    }
    let idle = back.filter(|_| activity.parked() && result.is_ok() && verdict.recorded().is_none());
    match idle.and_then(Validated::into_idle) {
        Some((stream, requests)) => Served::Parked(Parked {
            stream,
            requests,
            deadline: quiet_since + cx.header_read,
            client: cx.info.client,
            guard: None,
        }),
        None => Served::Ended(result.into()),
    }
}

/// Writes the body of a response that left hyper (see `handoff.rs`) on the socket hyper gave
/// back; a connection whose body ended cleanly goes on to its next request.
pub(crate) async fn write_handed(handed: Handed, cx: &Context) -> Served {
    let Handed {
        stream,
        requests,
        body,
    } = handed;
    match handoff::write_chunked(stream, body).await {
        Written::Complete(stream) if !cx.stop.is_cancelled() => Served::Parked(Parked {
            stream,
            requests,
            deadline: Instant::now() + cx.header_read,
            client: cx.info.client,
            guard: None,
        }),
        Written::Complete(_) | Written::Broken => Served::Ended(Ended::Closed),
    }
}

/// hyper's connection for a plain stream that just became readable; the head deadline runs on
/// from the wait (hyper starts its own timer afresh).
fn h1_connection(
    builder: &auto::Builder<TokioExecutor>,
    io: Parkable<Validated<TcpStream>>,
    deadline: Instant,
    cx: &Context,
    verdict: &Arc<Verdict>,
    activity: &Arc<Activity>,
) -> impl GracefulConnection<Error = ConnError> + Send + 'static {
    let left = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(1));
    let mut builder = builder.clone();
    builder.http1().header_read_timeout(left);
    let service = service(cx, Arc::clone(verdict), Arc::clone(activity), None);
    builder
        .serve_connection_with_upgrades(TokioIo::new(io), service)
        .into_owned()
}

/// The client stream behind the HTTP/1 framing validator (it steps aside for h2), `requests`
/// of the connection already read; `verdict` is shared with the connection's requests.
fn validated<S>(stream: S, cx: &Context, verdict: Arc<Verdict>, requests: u64) -> Validated<S> {
    Validated::resumed(
        stream,
        cx.limits,
        verdict,
        Arc::clone(&cx.shared.metrics),
        cx.info.client.ip(),
        requests,
    )
}

/// Serves a decrypted TLS connection (HTTP/1.1 or h2 by ALPN) with hyper throughout;
/// requests carry the verified client certificate's subject, if any.
pub(crate) async fn serve_tls<I>(
    builder: &auto::Builder<TokioExecutor>,
    stream: I,
    cx: Context,
    subject: Option<Arc<str>>,
) -> Ended
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let verdict = Arc::new(Verdict::default());
    let io = validated(stream, &cx, Arc::clone(&verdict), 0);
    let activity = Arc::new(Activity::default());
    let service = service(&cx, verdict, activity, subject);
    let conn = builder
        .serve_connection_with_upgrades(TokioIo::new(io), service)
        .into_owned();
    watch(conn, &cx.stop, None).await.0.into()
}

/// The service of one hyper connection: each request boxed into the handler, its response
/// counted open until hyper drops its body.
fn service(
    cx: &Context,
    verdict: Arc<Verdict>,
    activity: Arc<Activity>,
    subject: Option<Arc<str>>,
) -> impl hyper::service::Service<
    Request<Incoming>,
    Response = Response<OpenBody<ProxyBody>>,
    Error = Infallible,
    Future = impl Future<Output = Result<Response<OpenBody<ProxyBody>>, Infallible>> + Send + 'static,
> + Clone
+ Send
+ 'static {
    let info = cx.info;
    let shared = Arc::clone(&cx.shared);
    service_fn(move |mut req: Request<Incoming>| {
        if let Some(s) = &subject {
            req.extensions_mut().insert(PeerSubject(Arc::clone(s)));
        }
        // Only a plain HTTP/1.1 GET with no `Connection` header may have its response written
        // outside hyper (hyper's framing of it is then chunked, on a persistent connection).
        let may_hand_off = req.version() == Version::HTTP_11
            && req.method() == Method::GET
            && !req.headers().contains_key(CONNECTION);
        let open = activity.call();
        // Boxed per request: hyper's HTTP/1 dispatcher allocates one slot of the service
        // future's size per connection and keeps it while the connection idles, so an inline
        // `handle` future (kilobytes) would stay resident on every idle keep-alive connection.
        let handling = Box::pin(handler::handle(
            req,
            info,
            Arc::clone(&shared),
            Arc::clone(&verdict),
        ));
        async move {
            let mut response = handling.await?;
            if let Some(h) = response.extensions_mut().remove::<Handoff>()
                && may_hand_off
                && offerable(response.headers())
            {
                open.activity().offer(h);
            }
            Ok(response.map(|body| OpenBody::new(body, open)))
        }
    })
}

/// A response head hyper frames as chunked on a persistent connection.
fn offerable(headers: &http::HeaderMap) -> bool {
    !headers.contains_key(CONTENT_LENGTH)
        && !headers.contains_key(TRANSFER_ENCODING)
        && !headers.contains_key(CONNECTION)
}

/// What the watch of a plain HTTP/1 connection looks at each tick.
struct Plain<'a> {
    activity: &'a Activity,
    verdict: &'a Verdict,
    /// The head deadline of the connection's first request (or first since its resume).
    head_by: Instant,
}

fn handed(plain: Option<&Plain<'_>>) -> std::task::Poll<()> {
    if plain.is_some_and(|p| p.activity.handed()) {
        std::task::Poll::Ready(())
    } else {
        std::task::Poll::Pending
    }
}

/// No request reached the service by the head deadline. hyper's own head timeout starts only
/// once its HTTP/1-or-h2 sniff has decided, and the sniff has no deadline: a client that sends
/// `P` (a possible start of the h2 preface) and stalls would be held.
#[derive(Debug)]
struct HeadTimedOut;

impl std::fmt::Display for HeadTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no request head by the head deadline")
    }
}

impl std::error::Error for HeadTimedOut {}

/// Drives one hyper connection until it ends: a graceful shutdown when `stop` fires, and for a
/// plain HTTP/1 connection, each tick, a park request when it was quiet and the end of it when
/// no request has reached the service by the head deadline (unless it turned out h2c).
/// Returns how it ended and the start of the tick it was last seen active in.
async fn watch<C>(
    conn: C,
    stop: &CancellationToken,
    plain: Option<Plain<'_>>,
) -> (Result<(), ConnError>, Instant)
where
    C: GracefulConnection<Error = ConnError>,
{
    let mut conn = pin!(conn);
    let mut cancelled = pin!(stop.cancelled());
    let mut draining = false;
    let mut quiet_since = Instant::now();
    let mut ticks = tokio::time::interval_at(quiet_since + PARK_AFTER, PARK_AFTER);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let calls = plain.as_ref().map(|p| p.activity.calls());
    let mut head_by = plain.as_ref().map(|p| p.head_by);
    loop {
        tokio::select! {
            biased;
            result = conn.as_mut() => return (result, quiet_since),
            // Checked after every poll of the connection: a response left hyper in it.
            () = std::future::poll_fn(|_| handed(plain.as_ref())) => return (Ok(()), quiet_since),
            () = &mut cancelled, if !draining => {
                draining = true;
                conn.as_mut().graceful_shutdown();
            }
            now = ticks.tick(), if !draining && plain.is_some() => {
                let Some(p) = &plain else { continue };
                if p.activity.tick() {
                    quiet_since = now;
                }
                if head_by.is_some_and(|by| now >= by) {
                    if Some(p.activity.calls()) == calls && !p.verdict.aside() {
                        return (Err(Box::new(HeadTimedOut)), quiet_since);
                    }
                    head_by = None;
                }
            }
        }
    }
}

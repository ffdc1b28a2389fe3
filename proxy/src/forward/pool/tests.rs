use super::*;
use http_body_util::{BodyExt, Empty};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A keep-alive backend that answers every request with `body`; counts its connections.
async fn backend(body: &'static str) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                loop {
                    let Ok(n) = sock.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.drain(..end + 4);
                        let resp = format!(
                            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if sock.write_all(resp.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    (addr, accepted)
}

fn pool(idle_timeout: Duration) -> Arc<H1Pool> {
    Arc::new(H1Pool::new(
        UpstreamConnector::new(Duration::from_secs(5), None),
        http1::Builder::new(),
        8,
        idle_timeout,
    ))
}

fn get(addr: std::net::SocketAddr) -> Request<ProxyBody> {
    Request::get(format!("http://{addr}/x"))
        .header(http::header::HOST, addr.to_string())
        .body(
            Empty::<Bytes>::new()
                .map_err(|never| match never {})
                .boxed_unsync(),
        )
        .unwrap()
}

async fn fetch(pool: &Arc<H1Pool>, addr: std::net::SocketAddr) -> (String, bool) {
    let (driven, reused) = pool.request(get(addr)).await.unwrap();
    let resp = tokio::time::timeout(Duration::from_secs(10), driven)
        .await
        .expect("a response in time")
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (String::from_utf8_lossy(&body).into_owned(), reused)
}

#[tokio::test]
async fn one_connection_serves_requests_one_after_another() {
    let (addr, accepted) = backend("hello").await;
    let pool = pool(Duration::from_secs(60));
    let authority: Authority = addr.to_string().parse().unwrap();
    for i in 0..3 {
        let (body, reused) = fetch(&pool, addr).await;
        assert_eq!(body, "hello");
        assert_eq!(reused, i > 0, "request {i}");
        assert_eq!(pool.idle_count(&authority), 1, "back in the pool after {i}");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_expired_idle_connection_is_not_reused() {
    let (addr, accepted) = backend("hi").await;
    let pool = pool(Duration::ZERO);
    for _ in 0..3 {
        let (body, reused) = fetch(&pool, addr).await;
        assert_eq!(body, "hi");
        assert!(!reused);
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_body_dropped_before_its_end_takes_its_connection_along() {
    let (addr, accepted) = backend("a longer body than one read wants").await;
    let pool = pool(Duration::from_secs(60));
    let authority: Authority = addr.to_string().parse().unwrap();
    let (driven, _) = pool.request(get(addr)).await.unwrap();
    let resp = tokio::time::timeout(Duration::from_secs(10), driven)
        .await
        .expect("a response in time")
        .unwrap();
    drop(resp);
    assert_eq!(pool.idle_count(&authority), 0);
    let (body, reused) = fetch(&pool, addr).await;
    assert_eq!(body, "a longer body than one read wants");
    assert!(!reused);
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_event_stream_body_keeps_flowing_on_its_own_task() {
    let (addr, _) = backend("data: 1\n\n").await;
    let pool = pool(Duration::from_secs(60));
    let (driven, _) = pool.request(get(addr)).await.unwrap();
    let resp = tokio::time::timeout(Duration::from_secs(10), driven)
        .await
        .expect("a response in time")
        .unwrap();
    let incoming = UpstreamBody::Pooled(resp.into_body()).into_incoming();
    let body = incoming.collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"data: 1\n\n");
}

#[tokio::test]
async fn idle_connections_are_closed_after_the_timeout_without_another_request() {
    let (addr, accepted) = backend("ok").await;
    let pool = pool(Duration::from_millis(200));
    let (body, _) = fetch(&pool, addr).await;
    assert_eq!(body, "ok");
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
    let backend_addr: Authority = addr.to_string().parse().unwrap();
    assert_eq!(pool.idle_count(&backend_addr), 1);
    // The reaper, not a request, lets it go.
    let deadline = Instant::now() + Duration::from_secs(10);
    while pool.idle_count(&backend_addr) > 0 {
        assert!(
            Instant::now() < deadline,
            "the idle connection was never reaped"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_sweep_that_drops_the_last_idle_connections_reclaims_on_the_worker() {
    let (addr, _) = backend("ok").await;
    let pool = pool(Duration::from_millis(200));
    fetch(&pool, addr).await;
    // A fresh idle connection: nothing to drop, the reaper goes on.
    let swept = pool.sweep();
    assert!(!swept.empty && !swept.dropped);
    let before = crate::server::RECLAIMED_NOW.load(Ordering::SeqCst);
    let backend_addr: Authority = addr.to_string().parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while crate::server::RECLAIMED_NOW.load(Ordering::SeqCst) == before {
        assert!(Instant::now() < deadline, "the reaper never reclaimed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(pool.idle_count(&backend_addr), 0);
    // An empty pool's sweep drops nothing, so it does not reclaim again.
    let swept = pool.sweep();
    assert!(swept.empty && !swept.dropped);
}

/// A backend that reads one request head on each connection and answers with `script` (the
/// whole response, head and body, in one write), then closes; returns the requests it read.
async fn scripted(script: &'static [u8]) -> (std::net::SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let heads = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&heads);
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                seen.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&buf).into_owned());
                let _ = sock.write_all(script).await;
            });
        }
    });
    (addr, heads)
}

fn get_events(addr: std::net::SocketAddr) -> Request<ProxyBody> {
    let mut req = get(addr);
    req.headers_mut().insert(
        http::header::ACCEPT,
        http::HeaderValue::from_static("text/event-stream"),
    );
    req
}

async fn respond(pool: &Arc<H1Pool>, req: Request<ProxyBody>) -> Response<PooledBody> {
    let (driven, reused) = pool.request(req).await.unwrap();
    assert!(!reused, "an event-stream request gets a new connection");
    tokio::time::timeout(Duration::from_secs(10), driven)
        .await
        .expect("a response in time")
        .unwrap()
}

const STREAM: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n9\r\ndata: 1\n\n\r\n9\r\ndata: 2\n\n\r\n0\r\n\r\n";

#[tokio::test]
async fn an_event_stream_leaves_hyper_with_every_body_byte_untouched() {
    let (addr, heads) = scripted(STREAM).await;
    let pool = pool(Duration::from_secs(60));
    let resp = respond(&pool, get_events(addr)).await;
    assert!(heads.lock().unwrap()[0].starts_with("GET /x HTTP/1.1\r\n"));
    let EventBody::Raw(raw) = UpstreamBody::Pooled(resp.into_body()).into_event_body() else {
        panic!("the gated body stays raw");
    };
    assert_eq!(raw.framing, Framing::Chunked);
    let mut body = raw.kept;
    let mut tcp = raw.tcp;
    tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut body))
        .await
        .expect("the backend closes")
        .unwrap();
    let head_end = STREAM.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(body, &STREAM[head_end..]);
}

#[tokio::test]
async fn any_other_answer_to_an_event_stream_request_is_read_through_hyper() {
    let (addr, _) = scripted(b"HTTP/1.1 406 Not Acceptable\r\ncontent-length: 4\r\n\r\nnope").await;
    let pool = pool(Duration::from_secs(60));
    let resp = respond(&pool, get_events(addr)).await;
    assert_eq!(resp.status(), 406);
    let body = UpstreamBody::Pooled(resp.into_body());
    let EventBody::Hyper(incoming) = body.into_event_body() else {
        panic!("only an event stream is taken off its connection");
    };
    let bytes = incoming.collect().await.unwrap().to_bytes();
    assert_eq!(&bytes[..], b"nope");
}

#[tokio::test]
async fn a_held_event_stream_read_as_a_plain_body_opens_its_gate() {
    let (addr, _) = scripted(STREAM).await;
    let pool = pool(Duration::from_secs(60));
    let resp = respond(&pool, get_events(addr)).await;
    let body = tokio::time::timeout(Duration::from_secs(10), resp.into_body().collect())
        .await
        .expect("the body flows once read")
        .unwrap()
        .to_bytes();
    assert_eq!(&body[..], b"data: 1\n\ndata: 2\n\n");
}

/// `n` requests in flight at once, then every response read; whether each went on a reused
/// connection.
async fn burst(pool: &Arc<H1Pool>, addr: std::net::SocketAddr, n: usize) -> Vec<bool> {
    let mut in_flight = Vec::new();
    for _ in 0..n {
        in_flight.push(pool.request(get(addr)).await.unwrap());
    }
    let mut reused = Vec::new();
    for (driven, r) in in_flight {
        let resp = tokio::time::timeout(Duration::from_secs(10), driven)
            .await
            .expect("a response in time")
            .unwrap();
        resp.into_body().collect().await.unwrap();
        reused.push(r);
    }
    reused
}

#[tokio::test]
async fn a_burst_past_max_idle_keeps_its_connections_until_a_sweep_finds_them_unused() {
    let (addr, accepted) = backend("ok").await;
    let pool = pool(Duration::from_secs(60));
    let authority: Authority = addr.to_string().parse().unwrap();
    // Twelve requests in flight at once (the pool keeps 8): twelve connections.
    assert_eq!(burst(&pool, addr, 12).await, vec![false; 12]);
    assert_eq!(accepted.load(Ordering::SeqCst), 12);
    // All twelve came back and stay while the burst is recent.
    assert_eq!(pool.idle_count(&authority), 12);
    let swept = pool.sweep();
    assert!(!swept.dropped && !swept.empty);
    // The next burst of twelve takes them all without a connect.
    assert_eq!(burst(&pool, addr, 12).await, vec![true; 12]);
    assert_eq!(accepted.load(Ordering::SeqCst), 12);
    assert_eq!(pool.idle_count(&authority), 12);
    // Unused for a whole sweep period: the oldest four are closed, down to the cap.
    let later = Instant::now() + sweep_period(Duration::from_secs(60));
    let swept = pool.sweep_at(later);
    assert!(swept.dropped && !swept.empty);
    assert_eq!(pool.idle_count(&authority), 8);
    let swept = pool.sweep_at(later);
    assert!(!swept.dropped);
    assert_eq!(pool.idle_count(&authority), 8);
}

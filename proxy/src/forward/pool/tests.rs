use super::*;
use http_body_util::{BodyExt, Empty};
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

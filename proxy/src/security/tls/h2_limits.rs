//! `server.http2` applied to hyper's HTTP/2 server: stream and header-list limits, and the
//! reset-stream caps against Rapid Reset (CVE-2023-44487) and its local-error variant
//! (CVE-2025-8671, "MadeYouReset"). A CONTINUATION flood is bounded by the h2 crate: header
//! blocks are decoded as they arrive and a block over `max_header_list_size` ends the stream
//! or connection, so the frames cannot pile up in memory.

use crate::config::Http2Config;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto::Http2Builder;

/// Sets the limits on an auto builder's HTTP/2 half.
pub fn http2_limits(h2: &mut Http2Builder<'_, TokioExecutor>, limits: &Http2Config) {
    h2.timer(TokioTimer::new())
        .max_concurrent_streams(limits.max_concurrent_streams)
        .max_header_list_size(limits.max_header_list_size)
        .max_pending_accept_reset_streams(limits.max_pending_reset_streams)
        .max_local_error_reset_streams(limits.max_local_error_reset_streams);
}

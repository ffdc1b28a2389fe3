//! `listeners[].tls`, `upstreams.<name>.tls` and `server.http2`, as written and validated.
//!
//! Certificate and key files are read here, while validating, so a missing or bad file fails
//! the start or refuses the reload with its key path and the previous config keeps serving.
//! Paths are relative to the process's working directory.

use super::error::Issues;
use super::units::{Dur, Size};
use super::validate::positive;
use crate::security::tls::{self, ClientAuth, ServerCert};
use http::HeaderName;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The default header carrying a verified client certificate's subject.
pub const SUBJECT_HEADER_DEFAULT: &str = "x-client-cert-subject";

/// `listeners[].tls` as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawListenerTls {
    /// Certificates with their keys; the first is the default for unknown or absent SNI.
    pub certificates: Vec<RawCertificate>,
    /// Ask for a client certificate: `optional` or `required`; none is asked for when absent.
    #[serde(default)]
    pub client_auth: Option<ClientAuth>,
    /// PEM bundle of the CAs a client certificate must chain to (with `client_auth`).
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
    /// The request header that carries the verified subject upstream; always stripped from
    /// what clients send.
    #[serde(default = "subject_header_default")]
    pub subject_header: String,
    /// Time allowed for the TLS handshake.
    #[serde(default = "handshake_timeout_default")]
    pub handshake_timeout: Dur,
}

/// One certificate of a TLS listener.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCertificate {
    /// PEM file: the leaf certificate first, then its intermediates.
    pub cert: PathBuf,
    /// PEM file with the private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// SNI names served with this certificate: exact (`api.example.test`) or one-label
    /// wildcards (`*.example.test`). Needed on every entry but the first.
    #[serde(default)]
    pub server_names: Vec<String>,
}

/// `upstreams.<name>.tls` as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUpstreamTls {
    /// PEM bundle of the CAs the backends' certificates must chain to (required: no system
    /// roots are used).
    pub ca: PathBuf,
    /// The server name sent and verified; the backend's host when absent.
    #[serde(default)]
    pub sni: Option<String>,
    /// A client certificate presented to the backends.
    #[serde(default)]
    pub client_cert: Option<RawClientCert>,
}

/// `upstreams.<name>.tls.client_cert` as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClientCert {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
}

/// `server.http2` as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHttp2 {
    /// Streams a client may have open at once on one connection (SETTINGS).
    #[serde(default = "max_concurrent_streams_default")]
    pub max_concurrent_streams: u32,
    /// Largest decoded header list of one request (SETTINGS); also bounds CONTINUATION.
    #[serde(default = "max_header_list_size_default")]
    pub max_header_list_size: Size,
    /// Streams reset by the client before the proxy accepted them (Rapid Reset); over it the
    /// connection gets GOAWAY.
    #[serde(default = "max_pending_reset_streams_default")]
    pub max_pending_reset_streams: usize,
    /// Streams the proxy reset for protocol errors; over it the connection gets GOAWAY.
    #[serde(default = "max_local_error_reset_streams_default")]
    pub max_local_error_reset_streams: usize,
}

impl Default for RawHttp2 {
    fn default() -> Self {
        Self {
            max_concurrent_streams: max_concurrent_streams_default(),
            max_header_list_size: max_header_list_size_default(),
            max_pending_reset_streams: max_pending_reset_streams_default(),
            max_local_error_reset_streams: max_local_error_reset_streams_default(),
        }
    }
}

/// A validated TLS listener: the rustls server config built from the files as read now.
#[derive(Debug, Clone)]
pub struct ListenerTls {
    /// The server config (certificates, SNI, ALPN, client verifier).
    pub server: Arc<rustls::ServerConfig>,
    /// The header that carries the verified subject upstream.
    pub subject_header: HeaderName,
    /// Handshake deadline.
    pub handshake_timeout: Duration,
}

/// A validated upstream TLS setting.
#[derive(Debug, Clone)]
pub struct UpstreamTls {
    /// The client config (private CA roots, client certificate, ALPN http/1.1).
    pub client: Arc<rustls::ClientConfig>,
    /// The fixed server name, if set; else the backend's host is used.
    pub sni: Option<rustls_pki_types::ServerName<'static>>,
}

/// Validated HTTP/2 limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Http2Config {
    /// SETTINGS_MAX_CONCURRENT_STREAMS.
    pub max_concurrent_streams: u32,
    /// SETTINGS_MAX_HEADER_LIST_SIZE, in bytes.
    pub max_header_list_size: u32,
    /// hyper's `max_pending_accept_reset_streams`.
    pub max_pending_reset_streams: usize,
    /// hyper's `max_local_error_reset_streams`.
    pub max_local_error_reset_streams: usize,
}

/// Reads the files of `listeners[i].tls` and builds its server config.
pub(super) fn listener(
    path: &str,
    raw: &RawListenerTls,
    issues: &mut Issues,
) -> Option<ListenerTls> {
    let before = issues.0.len();
    let subject_header = HeaderName::from_bytes(raw.subject_header.as_bytes())
        .map_err(|_| {
            issues.push(
                format!("{path}.subject_header"),
                format!("{:?} is not a valid header name", raw.subject_header),
            )
        })
        .ok();
    let handshake_timeout = positive(
        raw.handshake_timeout.0,
        &format!("{path}.handshake_timeout"),
        issues,
    );
    if raw.certificates.is_empty() {
        issues.push(
            format!("{path}.certificates"),
            "at least one certificate is needed, e.g. `- { cert: certs/cert.pem, key: certs/key.pem }`",
        );
    }
    let mut certs = Vec::new();
    for (i, c) in raw.certificates.iter().enumerate() {
        let cpath = format!("{path}.certificates[{i}]");
        if i > 0 && c.server_names.is_empty() {
            issues.push(
                format!("{cpath}.server_names"),
                "needed on every certificate after the first (the first is the default)",
            );
        }
        for (n, name) in c.server_names.iter().enumerate() {
            if tls::sni_pattern(name).is_none() {
                issues.push(
                    format!("{cpath}.server_names[{n}]"),
                    format!("{name:?} is not a host name; use e.g. \"api.example.test\" or \"*.example.test\""),
                );
            }
        }
        let chain = tls::read_certs(&c.cert).map_err(|e| issues.push(format!("{cpath}.cert"), e));
        let key = tls::read_key(&c.key).map_err(|e| issues.push(format!("{cpath}.key"), e));
        if let (Ok(chain), Ok(key)) = (chain, key) {
            match ServerCert::new(chain, key, &c.server_names) {
                Ok(cert) => certs.push(cert),
                Err(e) => issues.push(format!("{cpath}.key"), e),
            }
        }
    }
    let roots = match (raw.client_auth, &raw.client_ca) {
        (Some(_), Some(ca)) => tls::read_certs(ca)
            .map_err(|e| issues.push(format!("{path}.client_ca"), e))
            .ok(),
        (Some(_), None) => {
            issues.push(
                format!("{path}.client_ca"),
                "needed with client_auth: the PEM bundle of the CAs client certificates must chain to",
            );
            None
        }
        (None, Some(_)) => {
            issues.push(
                format!("{path}.client_ca"),
                "used only with client_auth; add `client_auth: optional` or `required`, or remove it",
            );
            None
        }
        (None, None) => None,
    };
    if issues.0.len() > before {
        return None;
    }
    let client = raw.client_auth.zip(roots);
    match tls::server_config(certs, client) {
        Ok(server) => Some(ListenerTls {
            server,
            subject_header: subject_header?,
            handshake_timeout,
        }),
        Err(e) => {
            issues.push(path, e);
            None
        }
    }
}

/// Reads the files of `upstreams.<name>.tls` and builds its client config.
pub(super) fn upstream(
    path: &str,
    raw: &RawUpstreamTls,
    issues: &mut Issues,
) -> Option<UpstreamTls> {
    let before = issues.0.len();
    let roots = tls::read_certs(&raw.ca).map_err(|e| issues.push(format!("{path}.ca"), e));
    let sni = raw.sni.as_ref().and_then(|s| {
        rustls_pki_types::ServerName::try_from(s.clone())
            .map_err(|_| {
                issues.push(
                    format!("{path}.sni"),
                    format!("{s:?} is not a DNS name or IP address"),
                )
            })
            .ok()
    });
    let identity = raw.client_cert.as_ref().and_then(|c| {
        let cert = tls::read_certs(&c.cert)
            .map_err(|e| issues.push(format!("{path}.client_cert.cert"), e));
        let key =
            tls::read_key(&c.key).map_err(|e| issues.push(format!("{path}.client_cert.key"), e));
        cert.ok().zip(key.ok())
    });
    let roots = roots.ok()?;
    if issues.0.len() > before {
        return None;
    }
    match tls::client_config(roots, identity) {
        Ok(client) => Some(UpstreamTls { client, sni }),
        Err(e) => {
            issues.push(path, e);
            None
        }
    }
}

/// Validates `server.http2`.
pub(super) fn http2(raw: &RawHttp2, issues: &mut Issues) -> Http2Config {
    if raw.max_concurrent_streams == 0 {
        issues.push(
            "server.http2.max_concurrent_streams",
            "must be at least 1 (default 200)",
        );
    }
    let list = raw.max_header_list_size.0;
    if !(1024..=u64::from(u32::MAX)).contains(&list) {
        issues.push(
            "server.http2.max_header_list_size",
            "must be between 1KiB and 4GiB (default 64KiB)",
        );
    }
    Http2Config {
        max_concurrent_streams: raw.max_concurrent_streams.max(1),
        max_header_list_size: u32::try_from(list).unwrap_or(u32::MAX),
        max_pending_reset_streams: raw.max_pending_reset_streams,
        max_local_error_reset_streams: raw.max_local_error_reset_streams,
    }
}

fn subject_header_default() -> String {
    SUBJECT_HEADER_DEFAULT.into()
}
fn handshake_timeout_default() -> Dur {
    Dur(Duration::from_secs(10))
}
fn max_concurrent_streams_default() -> u32 {
    200
}
fn max_header_list_size_default() -> Size {
    Size(64 * 1024)
}
fn max_pending_reset_streams_default() -> usize {
    20
}
fn max_local_error_reset_streams_default() -> usize {
    1024
}

#[cfg(test)]
mod tests;

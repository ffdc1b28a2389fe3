//! The listener's rustls server config: certificates chosen by SNI, ALPN, client verifier.

use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

/// Whether a TLS listener asks for a client certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// Asked for; a client without one is served, one with an unverifiable one is refused.
    Optional,
    /// A client without a certificate signed by `client_ca` fails the handshake.
    Required,
}

/// An SNI name as matched: exact (lower case) or a one-label wildcard suffix (`.example.test`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SniPattern {
    /// `api.example.test`.
    Exact(String),
    /// `*.example.test`, kept as `.example.test`.
    Wildcard(String),
}

/// Parses a `server_names` entry; `None` if it is not a host name.
pub fn sni_pattern(name: &str) -> Option<SniPattern> {
    let lower = name.to_ascii_lowercase();
    let (wild, host) = match lower.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, lower.as_str()),
    };
    let valid = !host.is_empty()
        && host
            .split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    if !valid {
        return None;
    }
    Some(if wild {
        SniPattern::Wildcard(format!(".{host}"))
    } else {
        SniPattern::Exact(lower)
    })
}

/// One certificate with its key and the SNI names it serves.
#[derive(Debug)]
pub struct ServerCert {
    key: Arc<CertifiedKey>,
    names: Vec<SniPattern>,
}

impl ServerCert {
    /// Loads the key and checks that it belongs to the chain's leaf.
    pub fn new(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        names: &[String],
    ) -> Result<Self, String> {
        let key = CertifiedKey::from_der(chain, key, &super::provider())
            .map_err(|e| format!("the key does not fit the certificate ({e})"))?;
        Ok(Self {
            key: Arc::new(key),
            names: names.iter().filter_map(|n| sni_pattern(n)).collect(),
        })
    }
}

/// Picks the certificate by SNI: exact names, then wildcards, then the default (the first).
#[derive(Debug)]
struct SniResolver {
    exact: HashMap<String, Arc<CertifiedKey>>,
    wildcard: Vec<(String, Arc<CertifiedKey>)>,
    default: Arc<CertifiedKey>,
}

impl SniResolver {
    fn pick(&self, sni: Option<&str>) -> Arc<CertifiedKey> {
        let Some(name) = sni else {
            return Arc::clone(&self.default);
        };
        let name = name.to_ascii_lowercase();
        if let Some(k) = self.exact.get(&name) {
            return Arc::clone(k);
        }
        // A wildcard covers exactly one label: `*.example.test` takes `a.example.test` only.
        if let Some((_, rest)) = name.split_once('.') {
            let suffix = &name[name.len() - rest.len() - 1..];
            if let Some((_, k)) = self.wildcard.iter().find(|(s, _)| s == suffix) {
                return Arc::clone(k);
            }
        }
        Arc::clone(&self.default)
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.pick(hello.server_name()))
    }
}

/// Builds a server config: TLS 1.2/1.3, ALPN `h2` then `http/1.1`, certificates by SNI, and
/// a client verifier when `client` is set.
pub fn server_config(
    certs: Vec<ServerCert>,
    client: Option<(ClientAuth, Vec<CertificateDer<'static>>)>,
) -> Result<Arc<rustls::ServerConfig>, String> {
    let provider = super::provider();
    let mut certs = certs.into_iter();
    let first = certs.next().ok_or("at least one certificate is needed")?;
    let mut resolver = SniResolver {
        exact: HashMap::new(),
        wildcard: Vec::new(),
        default: Arc::clone(&first.key),
    };
    for cert in std::iter::once(first).chain(certs) {
        for name in cert.names {
            match name {
                SniPattern::Exact(n) => {
                    resolver
                        .exact
                        .entry(n)
                        .or_insert_with(|| Arc::clone(&cert.key));
                }
                SniPattern::Wildcard(s) => resolver.wildcard.push((s, Arc::clone(&cert.key))),
            }
        }
    }
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(super::VERSIONS)
        .map_err(|e| e.to_string())?;
    let builder = match client {
        None => builder.with_no_client_auth(),
        Some((mode, cas)) => {
            let mut roots = rustls::RootCertStore::empty();
            for ca in cas {
                roots
                    .add(ca)
                    .map_err(|e| format!("client_ca: not a usable CA certificate ({e})"))?;
            }
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider));
            let verifier = match mode {
                ClientAuth::Optional => verifier.allow_unauthenticated(),
                ClientAuth::Required => verifier,
            };
            let verifier = verifier
                .build()
                .map_err(|e| format!("client_ca: cannot verify clients with it ({e})"))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_cert_resolver(Arc::new(resolver));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sni_patterns_are_exact_or_one_label_wildcards() {
        assert_eq!(
            sni_pattern("API.example.test"),
            Some(SniPattern::Exact("api.example.test".into()))
        );
        assert_eq!(
            sni_pattern("*.example.test"),
            Some(SniPattern::Wildcard(".example.test".into()))
        );
        assert_eq!(sni_pattern("a..b"), None);
        assert_eq!(sni_pattern("*"), None);
        assert_eq!(sni_pattern("http://x"), None);
    }

    #[test]
    fn resolver_prefers_exact_then_wildcard_then_default() {
        let certs = super::super::dev_certs(&["localhost".into()]).unwrap();
        let key = |pem: &str| {
            let chain = rustls_pemfile::certs(&mut pem.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            let k = rustls_pemfile::private_key(&mut certs.key_pem.as_bytes())
                .unwrap()
                .unwrap();
            Arc::new(CertifiedKey::from_der(chain, k, &super::super::provider()).unwrap())
        };
        let (a, b, d) = (
            key(&certs.cert_pem),
            key(&certs.cert_pem),
            key(&certs.cert_pem),
        );
        let r = SniResolver {
            exact: HashMap::from([("api.example.test".to_string(), Arc::clone(&a))]),
            wildcard: vec![(".example.test".to_string(), Arc::clone(&b))],
            default: Arc::clone(&d),
        };
        assert!(Arc::ptr_eq(&r.pick(Some("API.example.test")), &a));
        assert!(Arc::ptr_eq(&r.pick(Some("www.example.test")), &b));
        assert!(Arc::ptr_eq(&r.pick(Some("a.b.example.test")), &d));
        assert!(Arc::ptr_eq(&r.pick(Some("other.test")), &d));
        assert!(Arc::ptr_eq(&r.pick(None), &d));
    }
}

//! Placeholders in proxy configs: `${backends}`, `${backend.ID}` and the `${tls.*}` paths,
//! and the stand-in values validation fills them with.

use std::net::SocketAddr;

use super::model::TlsMaterial;
use crate::tls::TlsFiles;

/// Filled with the URL of the suite's `redis-server` (`proxy.redis: true`).
pub const REDIS_PLACEHOLDER: &str = "${redis}";

/// Fills `${backends}` (a YAML flow list of `{ address }`), `${backend.ID}` (an address) and,
/// with TLS material, `${tls.ca}`, `${tls.cert.NAME}`, `${tls.key.NAME}`, `${tls.client_cert}`
/// and `${tls.client_key}` (absolute paths of generated PEM files). Callers fill
/// [`REDIS_PLACEHOLDER`] first.
pub fn fill_placeholders(
    text: &str,
    backends: &[(String, SocketAddr)],
    tls: Option<&TlsFiles>,
) -> Result<String, String> {
    let list = backends
        .iter()
        .map(|(_, a)| format!("{{ address: \"{a}\" }}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut out = text.replace("${backends}", &format!("[{list}]"));
    for (id, addr) in backends {
        out = out.replace(&format!("${{backend.{id}}}"), &addr.to_string());
    }
    for (key, path) in tls.map(TlsFiles::placeholders).unwrap_or_default() {
        out = out.replace(&key, &path);
    }
    match out.find("${") {
        Some(i) => {
            let rest: String = out[i..].chars().take_while(|c| *c != '}').collect();
            Err(format!(
                "unknown placeholder `{rest}}}`; use ${{backends}}, ${{backend.ID}}, ${{redis}} (with `proxy.redis: true`) or, with `proxy.tls`, ${{tls.ca}}, ${{tls.cert.NAME}}, ${{tls.key.NAME}}, ${{tls.client_cert}}, ${{tls.client_key}}"
            ))
        }
        None => Ok(out),
    }
}

/// Stand-in backends (`127.0.0.1:9000+i`) and real generated TLS material, so validation
/// parses the proxy config the way the run will.
#[derive(Debug)]
pub(super) struct Stand {
    pub(super) backends: Vec<(String, SocketAddr)>,
    tls: Option<TlsFiles>,
}

impl Stand {
    /// Stand-ins for backends `ids`; generates `material` (a few milliseconds of rcgen).
    pub(super) fn new(ids: &[String], material: Option<&TlsMaterial>) -> Result<Self, String> {
        let backends = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                (
                    id.clone(),
                    SocketAddr::from(([127, 0, 0, 1], 9000 + i as u16)),
                )
            })
            .collect();
        let tls = material.map(TlsFiles::generate).transpose()?;
        Ok(Self { backends, tls })
    }

    /// `text` with every placeholder filled (`${redis}` with a stand-in URL).
    pub(super) fn fill(&self, text: &str) -> Result<String, String> {
        let text = text.replace(REDIS_PLACEHOLDER, "redis://127.0.0.1:6379");
        fill_placeholders(&text, &self.backends, self.tls.as_ref())
    }
}

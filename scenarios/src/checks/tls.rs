//! `tls`: the runner's own handshakes against a TLS listener hold up — trusting the generated
//! CA the certificate for `server_name` is presented and a request is served, an unrelated CA
//! is refused; with `client_cert`, no client certificate and a foreign one are refused; with
//! `alpn`, offering `h2` and `http/1.1` negotiates it; with `refuses_legacy`, TLS 1.0 and 1.1
//! ClientHellos get an alert or a close.

use serde::{Deserialize, Serialize};

use super::{Check, Outcome};
use crate::data::RunData;
use crate::tls::{Attempt, LegacyAnswer, TlsObservation};

/// The TLS behaviour of one listener for one SNI name.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// Optional name shown in reports.
    #[serde(default)]
    pub name: Option<String>,
    /// SNI name to connect with; one of `proxy.tls.server_names`.
    pub server_name: String,
    /// Proxy listener (by name) to connect to; default the first.
    #[serde(default)]
    pub listener: Option<String>,
    /// The listener requires the generated client certificate: without one, or with one from
    /// another CA, the handshake or the first request fails.
    #[serde(default)]
    pub client_cert: bool,
    /// Offering `h2` and `http/1.1`, this protocol is negotiated (`h2` or `http/1.1`).
    #[serde(default)]
    pub alpn: Option<String>,
    /// TLS 1.0 and TLS 1.1 ClientHellos get an alert or a close, not a ServerHello.
    #[serde(default)]
    pub refuses_legacy: bool,
}

impl Tls {
    /// Where the runner files this check's observation in [`RunData::tls`].
    pub fn key(&self) -> String {
        format!(
            "{}|{}|{}|{}|{}",
            self.listener.as_deref().unwrap_or(""),
            self.server_name,
            self.client_cert,
            self.alpn.as_deref().unwrap_or(""),
            self.refuses_legacy
        )
    }

    fn expected(&self) -> String {
        let mut parts = vec![
            format!("cert for {}", self.server_name),
            "bad CA refused".into(),
        ];
        if self.client_cert {
            parts.push("no/foreign client cert refused".into());
        }
        if let Some(alpn) = &self.alpn {
            parts.push(format!("alpn {alpn}"));
        }
        if self.refuses_legacy {
            parts.push("TLS 1.0/1.1 refused".into());
        }
        parts.join(", ")
    }

    /// What held, in order; the first `Err` is the verdict's reason.
    fn judge(&self, obs: &TlsObservation) -> Vec<Result<String, String>> {
        let mut out = Vec::new();
        let t = &obs.trusted;
        out.push(match (t.served(), t.leaf_matches) {
            (true, true) => Ok(format!("cert for {} ({})", self.server_name, status(t))),
            (true, false) => Err(format!(
                "the server presented another certificate than {}'s",
                self.server_name
            )),
            (false, _) => Err(format!("trusting the CA: {}", t.why())),
        });
        out.push(match &obs.untrusted.handshake_error {
            Some(_) => Ok("bad CA refused".to_owned()),
            None => Err("an unrelated CA was accepted".to_owned()),
        });
        if self.client_cert {
            for (what, a) in [
                ("no client cert", &obs.without_client_cert),
                ("a foreign client cert", &obs.foreign_client_cert),
            ] {
                out.push(match a {
                    Some(a) if !a.served() => Ok(format!("{what} refused")),
                    Some(a) => Err(format!("{what} was served ({})", status(a))),
                    None => Err(format!("{what}: not tried")),
                });
            }
        }
        if let Some(want) = &self.alpn {
            out.push(match &obs.alpn {
                Some(a) if a.handshake_error.is_some() => Err(format!("alpn: {}", a.why())),
                Some(a) if a.alpn.as_deref() == Some(want.as_str()) => Ok(format!("alpn {want}")),
                Some(a) => Err(format!(
                    "alpn {} negotiated",
                    a.alpn.as_deref().unwrap_or("none")
                )),
                None => Err("alpn: not tried".to_owned()),
            });
        }
        if self.refuses_legacy {
            if obs.legacy.is_empty() {
                out.push(Err("legacy hellos: not tried".to_owned()));
            }
            for (version, answer) in &obs.legacy {
                out.push(match answer {
                    LegacyAnswer::Alert(_, desc) => Ok(format!("{version} alert {desc}")),
                    LegacyAnswer::Closed => Ok(format!("{version} closed")),
                    LegacyAnswer::ServerHello => Err(format!("{version} got a ServerHello")),
                    LegacyAnswer::Other(e) => Err(format!("{version}: {e}")),
                });
            }
        }
        out
    }
}

fn status(a: &Attempt) -> String {
    a.status
        .map_or_else(|| "no status".to_owned(), |s| format!("HTTP {s}"))
}

impl Check for Tls {
    fn evaluate(&self, run: &RunData) -> Outcome {
        let expected = self.expected();
        let Some(obs) = run.tls.get(&self.key()) else {
            return Outcome::missing(expected, "the handshakes did not run");
        };
        let verdicts = self.judge(obs);
        match verdicts.iter().find_map(|v| v.as_ref().err()) {
            Some(e) => Outcome::new(false, expected, e.clone()),
            None => {
                let held: Vec<&str> = verdicts.iter().flatten().map(String::as_str).collect();
                Outcome::new(true, expected, held.join(", "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn served() -> Attempt {
        Attempt {
            leaf_matches: true,
            status: Some(200),
            alpn: Some("h2".into()),
            ..Attempt::default()
        }
    }

    fn refused() -> Attempt {
        Attempt {
            handshake_error: Some("invalid peer certificate: UnknownIssuer".into()),
            ..Attempt::default()
        }
    }

    fn check() -> Tls {
        Tls {
            name: None,
            server_name: "api.test".into(),
            listener: None,
            client_cert: true,
            alpn: Some("h2".into()),
            refuses_legacy: true,
        }
    }

    fn run(obs: TlsObservation) -> RunData {
        let mut run = RunData::default();
        run.tls.insert(check().key(), obs);
        run
    }

    fn good() -> TlsObservation {
        TlsObservation {
            trusted: served(),
            untrusted: refused(),
            without_client_cert: Some(refused()),
            foreign_client_cert: Some(refused()),
            alpn: Some(served()),
            legacy: vec![
                ("TLS 1.0".into(), LegacyAnswer::Alert(2, 70)),
                ("TLS 1.1".into(), LegacyAnswer::Closed),
            ],
        }
    }

    #[test]
    fn holds_when_every_step_did_what_it_should() {
        let out = check().evaluate(&run(good()));
        assert!(out.passed, "{out:?}");
        assert!(out.observed.contains("alpn h2"), "{out:?}");
    }

    #[test]
    fn fails_on_each_broken_step() {
        type Breaks = Box<dyn Fn(&mut TlsObservation)>;
        let cases: Vec<(&str, Breaks)> = vec![
            (
                "another certificate",
                Box::new(|o| o.trusted.leaf_matches = false),
            ),
            ("trusting the CA", Box::new(|o| o.trusted = refused())),
            (
                "unrelated CA was accepted",
                Box::new(|o| o.untrusted = served()),
            ),
            (
                "no client cert was served",
                Box::new(|o| o.without_client_cert = Some(served())),
            ),
            (
                "foreign client cert was served",
                Box::new(|o| o.foreign_client_cert = Some(served())),
            ),
            (
                "alpn http/1.1",
                Box::new(|o| o.alpn.as_mut().unwrap().alpn = Some("http/1.1".into())),
            ),
            (
                "ServerHello",
                Box::new(|o| o.legacy[1].1 = LegacyAnswer::ServerHello),
            ),
        ];
        for (why, breaks) in cases {
            let mut obs = good();
            breaks(&mut obs);
            let out = check().evaluate(&run(obs));
            assert!(!out.passed, "{why}: {out:?}");
            assert!(out.observed.contains(why), "{why}: {out:?}");
        }
        assert!(!check().evaluate(&RunData::default()).passed);
    }
}

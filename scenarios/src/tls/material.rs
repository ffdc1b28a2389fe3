//! The certificates a suite asks for in `proxy.tls`, generated with rcgen into a temp dir:
//! a CA, one server certificate per name (so an SNI check can tell them apart), and with
//! `client_cert: true` a client certificate signed by the same CA.

use std::collections::BTreeMap;
use std::path::PathBuf;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use rustls_pki_types::CertificateDer;

use crate::suite::TlsMaterial;

/// Generated PEM files (removed with this value) and the DER a client needs to judge them.
#[derive(Debug)]
pub struct TlsFiles {
    dir: tempfile::TempDir,
    ca: CertificateDer<'static>,
    leaves: BTreeMap<String, CertificateDer<'static>>,
    client: bool,
}

/// Subject common name of the generated client certificate.
pub const CLIENT_SUBJECT: &str = "scenarios client";

impl TlsFiles {
    /// Generates the CA, one certificate per server name and, if asked, the client certificate.
    pub fn generate(material: &TlsMaterial) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("tls: cannot create a temp dir: {e}"))?;
        let fail = |e: rcgen::Error| format!("tls: rcgen: {e}");
        let ca_key = KeyPair::generate().map_err(fail)?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(fail)?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "scenarios test CA");
        let ca = ca_params.self_signed(&ca_key).map_err(fail)?;
        let issuer = Issuer::new(ca_params, ca_key);
        let mut files = Self {
            ca: ca.der().clone(),
            leaves: BTreeMap::new(),
            client: material.client_cert,
            dir,
        };
        files.write("ca.pem", &ca.pem())?;
        for name in &material.server_names {
            let key = KeyPair::generate().map_err(fail)?;
            let mut params = CertificateParams::new(vec![name.clone()]).map_err(fail)?;
            params.distinguished_name.push(DnType::CommonName, name);
            params.insert_extended_key_usage(ExtendedKeyUsagePurpose::ServerAuth);
            let cert = params.signed_by(&key, &issuer).map_err(fail)?;
            files.write(&format!("cert-{name}.pem"), &cert.pem())?;
            files.write(&format!("key-{name}.pem"), &key.serialize_pem())?;
            files.leaves.insert(name.clone(), cert.der().clone());
        }
        if material.client_cert {
            let key = KeyPair::generate().map_err(fail)?;
            let mut params = CertificateParams::new(Vec::<String>::new()).map_err(fail)?;
            params
                .distinguished_name
                .push(DnType::CommonName, CLIENT_SUBJECT);
            params.insert_extended_key_usage(ExtendedKeyUsagePurpose::ClientAuth);
            let cert = params.signed_by(&key, &issuer).map_err(fail)?;
            files.write("client.pem", &cert.pem())?;
            files.write("client-key.pem", &key.serialize_pem())?;
        }
        Ok(files)
    }

    fn write(&self, file: &str, pem: &str) -> Result<(), String> {
        std::fs::write(self.dir.path().join(file), pem)
            .map_err(|e| format!("tls: cannot write {file}: {e}"))
    }

    fn path(&self, file: &str) -> String {
        self.dir.path().join(file).display().to_string()
    }

    /// The CA certificate (PEM file) that signed everything.
    pub fn ca_path(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The CA certificate, DER.
    pub fn ca_der(&self) -> &CertificateDer<'static> {
        &self.ca
    }

    /// The server certificate generated for `name`, DER.
    pub fn leaf(&self, name: &str) -> Option<&CertificateDer<'static>> {
        self.leaves.get(name)
    }

    /// Client certificate and key PEM files, when `client_cert: true`.
    pub fn client_paths(&self) -> Option<(PathBuf, PathBuf)> {
        self.client.then(|| {
            (
                self.dir.path().join("client.pem"),
                self.dir.path().join("client-key.pem"),
            )
        })
    }

    /// `(placeholder, absolute path)`: `${tls.ca}`, `${tls.cert.NAME}`, `${tls.key.NAME}`,
    /// and with a client certificate `${tls.client_cert}`, `${tls.client_key}`.
    pub fn placeholders(&self) -> Vec<(String, String)> {
        let mut out = vec![("${tls.ca}".to_owned(), self.path("ca.pem"))];
        for name in self.leaves.keys() {
            out.push((
                format!("${{tls.cert.{name}}}"),
                self.path(&format!("cert-{name}.pem")),
            ));
            out.push((
                format!("${{tls.key.{name}}}"),
                self.path(&format!("key-{name}.pem")),
            ));
        }
        if self.client {
            out.push(("${tls.client_cert}".to_owned(), self.path("client.pem")));
            out.push(("${tls.client_key}".to_owned(), self.path("client-key.pem")));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_gets_its_own_certificate_and_placeholders_point_at_files() {
        let files = TlsFiles::generate(&TlsMaterial {
            server_names: vec!["a.test".into(), "b.test".into()],
            client_cert: true,
        })
        .unwrap();
        assert_ne!(files.leaf("a.test"), files.leaf("b.test"));
        assert!(files.leaf("c.test").is_none());
        let placeholders = files.placeholders();
        assert_eq!(placeholders.len(), 7, "{placeholders:?}");
        for (_, path) in &placeholders {
            let text = std::fs::read_to_string(path).unwrap();
            assert!(text.starts_with("-----BEGIN"), "{path}");
        }
        assert!(files.client_paths().is_some());
    }
}

//! Development certificates made with rcgen: a CA, a server leaf and a client certificate.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use std::path::Path;

/// A CA and two certificates it signed, all PEM.
#[derive(Debug, Clone)]
pub struct DevCerts {
    /// The CA certificate (`ca.pem`).
    pub ca_pem: String,
    /// The CA's private key (`ca-key.pem`).
    pub ca_key_pem: String,
    /// The server leaf for the hosts (`cert.pem`).
    pub cert_pem: String,
    /// The leaf's private key (`key.pem`).
    pub key_pem: String,
    /// A client certificate, subject `CN=client,O=Rampart` (`client.pem`).
    pub client_pem: String,
    /// The client certificate's key (`client-key.pem`).
    pub client_key_pem: String,
}

impl DevCerts {
    /// Writes the six PEM files into `dir` (created if missing).
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        for (name, pem) in [
            ("ca.pem", &self.ca_pem),
            ("ca-key.pem", &self.ca_key_pem),
            ("cert.pem", &self.cert_pem),
            ("key.pem", &self.key_pem),
            ("client.pem", &self.client_pem),
            ("client-key.pem", &self.client_key_pem),
        ] {
            std::fs::write(dir.join(name), pem)?;
        }
        Ok(())
    }
}

/// Makes a fresh CA, a server certificate for `hosts` (DNS names or IP addresses) and a
/// client certificate, both signed by the CA.
pub fn dev_certs(hosts: &[String]) -> Result<DevCerts, rcgen::Error> {
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name = dn("Rampart development CA");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate()?;
    let ca_cert = ca.self_signed(&ca_key)?;
    let ca_key_pem = ca_key.serialize_pem();
    let issuer = Issuer::new(ca, ca_key);

    let mut leaf = CertificateParams::new(hosts.to_vec())?;
    leaf.distinguished_name = dn(hosts.first().map_or("localhost", String::as_str));
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_key = KeyPair::generate()?;
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer)?;

    let mut client = CertificateParams::new(Vec::<String>::new())?;
    client.distinguished_name = dn("client");
    client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_key = KeyPair::generate()?;
    let client_cert = client.signed_by(&client_key, &issuer)?;

    Ok(DevCerts {
        ca_pem: ca_cert.pem(),
        ca_key_pem,
        cert_pem: leaf_cert.pem(),
        key_pem: leaf_key.serialize_pem(),
        client_pem: client_cert.pem(),
        client_key_pem: client_key.serialize_pem(),
    })
}

/// `O=Rampart` then `CN=<cn>`, which RFC 4514 writes as `CN=<cn>,O=Rampart`.
fn dn(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "Rampart");
    dn.push(DnType::CommonName, cn);
    dn
}

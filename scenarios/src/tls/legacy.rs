//! A hand-built ClientHello for a legacy protocol version (TLS 1.0 or 1.1), which a server
//! that allows only TLS 1.2 and 1.3 must answer with an alert or a close, never a ServerHello.

/// A ClientHello record offering exactly `TLS 1.minor` (`minor` 1 = TLS 1.0, 2 = TLS 1.1,
/// 3 = TLS 1.2) with SNI `server_name`, ECDHE and RSA suites (CBC for the old versions, GCM
/// for 1.2) and no `supported_versions` extension, so nothing newer can be negotiated.
pub fn legacy_client_hello(server_name: &str, minor: u8) -> Vec<u8> {
    let mut ext = Vec::new();
    // server_name: list of one host_name.
    let name = server_name.as_bytes();
    let mut sni = Vec::new();
    push_u16(&mut sni, name.len() as u16 + 3);
    sni.push(0);
    push_u16(&mut sni, name.len() as u16);
    sni.extend_from_slice(name);
    extension(&mut ext, 0x0000, &sni);
    // supported_groups: secp256r1, x25519, secp384r1.
    extension(
        &mut ext,
        0x000a,
        &[0, 6, 0x00, 0x17, 0x00, 0x1d, 0x00, 0x18],
    );
    // ec_point_formats: uncompressed.
    extension(&mut ext, 0x000b, &[1, 0]);
    // signature_algorithms (ignored before 1.2): ecdsa_p256_sha256, rsa_pss_sha256, rsa_sha256.
    extension(
        &mut ext,
        0x000d,
        &[0, 6, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01],
    );
    // extended_master_secret.
    extension(&mut ext, 0x0017, &[]);
    let suites: [u16; 9] = [
        0xc02b, 0xc02f, // ECDHE-{ECDSA,RSA}-AES128-GCM-SHA256 (TLS 1.2)
        0xc009, 0xc013, 0xc00a, 0xc014, // ECDHE-{ECDSA,RSA}-AES{128,256}-SHA
        0x002f, 0x0035, 0x000a, // RSA-AES128-SHA, RSA-AES256-SHA, RSA-3DES
    ];
    let mut body = vec![3, minor];
    body.extend((0..32u8).map(|i| i.wrapping_mul(37).wrapping_add(11))); // random
    body.push(0); // no session id
    push_u16(&mut body, (suites.len() * 2) as u16);
    for s in suites {
        push_u16(&mut body, s);
    }
    body.extend_from_slice(&[1, 0]); // compression: null only
    push_u16(&mut body, ext.len() as u16);
    body.extend_from_slice(&ext);
    let mut handshake = vec![1]; // client_hello
    let len = body.len() as u32;
    handshake.extend_from_slice(&len.to_be_bytes()[1..]);
    handshake.extend_from_slice(&body);
    let mut record = vec![0x16, 3, 1]; // handshake record, version 1.0 as clients send
    push_u16(&mut record, handshake.len() as u16);
    record.extend_from_slice(&handshake);
    record
}

fn push_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn extension(out: &mut Vec<u8>, kind: u16, data: &[u8]) {
    push_u16(out, kind);
    push_u16(out, data.len() as u16);
    out.extend_from_slice(data);
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// What a rustls server (TLS 1.2 and 1.3 only) writes back to `hello`: the first byte of
    /// its first record (0x16 handshake, 0x15 alert), if any.
    fn first_record_type(hello: &[u8]) -> Option<u8> {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["a.test".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls_pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
        )
        .unwrap();
        let mut conn = rustls::ServerConnection::new(Arc::new(config)).unwrap();
        conn.read_tls(&mut &hello[..]).unwrap();
        let _ = conn.process_new_packets();
        let mut out = Vec::new();
        while conn.wants_write() {
            conn.write_tls(&mut out).unwrap();
        }
        out.first().copied()
    }

    #[test]
    fn the_same_hello_as_tls_1_2_is_well_formed_and_gets_a_server_hello() {
        assert_eq!(
            first_record_type(&legacy_client_hello("a.test", 3)),
            Some(0x16)
        );
    }

    #[test]
    fn tls_1_0_and_1_1_hellos_get_an_alert() {
        for minor in [1, 2] {
            assert_eq!(
                first_record_type(&legacy_client_hello("a.test", minor)),
                Some(0x15),
                "TLS 1.{}",
                minor - 1
            );
        }
    }
}

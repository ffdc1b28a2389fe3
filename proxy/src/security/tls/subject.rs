//! The subject of a certificate as an RFC 4514 string (`CN=client,O=Rampart`), read from the
//! DER with a small bounds-checked reader (only the path to `subject` is walked).

use std::fmt::Write;

/// The subject DN of a DER certificate, RFC 4514 style; `None` if the DER is malformed.
pub fn subject_of(cert: &[u8]) -> Option<String> {
    let (cert, _) = expect(cert, SEQUENCE)?;
    let (mut tbs, _) = expect(cert, SEQUENCE)?;
    if tbs.first() == Some(&0xa0) {
        tbs = tlv(tbs)?.2; // [0] version
    }
    let tbs = expect(tbs, INTEGER)?.1; // serial
    let tbs = expect(tbs, SEQUENCE)?.1; // signature algorithm
    let tbs = expect(tbs, SEQUENCE)?.1; // issuer
    let tbs = expect(tbs, SEQUENCE)?.1; // validity
    let (subject, _) = expect(tbs, SEQUENCE)?;
    name(subject)
}

const INTEGER: u8 = 0x02;
const OID: u8 = 0x06;
const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;

/// One DER element: (tag, value, rest).
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, after_tag) = input.split_first()?;
    let (&first, after_len) = after_tag.split_first()?;
    let (len, body) = if first < 0x80 {
        (usize::from(first), after_len)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let (bytes, body) = after_len.split_at_checked(n)?;
        (
            bytes.iter().fold(0usize, |a, &b| (a << 8) | usize::from(b)),
            body,
        )
    };
    let (value, rest) = body.split_at_checked(len)?;
    Some((tag, value, rest))
}

/// The value of an element with this tag, and what follows it.
fn expect(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (t, value, rest) = tlv(input)?;
    (t == tag).then_some((value, rest))
}

/// RDNs from last to first, joined with `,`; the attributes of one RDN joined with `+`.
fn name(mut rdns: &[u8]) -> Option<String> {
    let mut parts = Vec::new();
    while !rdns.is_empty() {
        let (mut set, rest) = expect(rdns, SET)?;
        rdns = rest;
        let mut attrs = Vec::new();
        while !set.is_empty() {
            let (attr, rest) = expect(set, SEQUENCE)?;
            set = rest;
            let (oid, value) = expect(attr, OID)?;
            let (tag, _, _) = tlv(value)?;
            attrs.push(attribute(oid, tag, value)?);
        }
        parts.push(attrs.join("+"));
    }
    parts.reverse();
    Some(parts.join(","))
}

/// `TYPE=value` of one attribute.
fn attribute(oid: &[u8], tag: u8, element: &[u8]) -> Option<String> {
    let (_, value, rest) = tlv(element)?;
    let whole = &element[..element.len() - rest.len()];
    let mut out = String::new();
    match short_name(oid) {
        Some(n) => out.push_str(n),
        None => out.push_str(&dotted(oid)?),
    }
    out.push('=');
    match (short_name(oid), decode(tag, value)) {
        (Some(_), Some(text)) => escape(&text, &mut out),
        _ => {
            out.push('#');
            for b in whole {
                let _ = write!(out, "{b:02x}");
            }
        }
    }
    Some(out)
}

/// The RFC 4514 names of the common attribute types.
fn short_name(oid: &[u8]) -> Option<&'static str> {
    Some(match oid {
        [0x55, 0x04, 0x03] => "CN",
        [0x55, 0x04, 0x07] => "L",
        [0x55, 0x04, 0x08] => "ST",
        [0x55, 0x04, 0x09] => "STREET",
        [0x55, 0x04, 0x0a] => "O",
        [0x55, 0x04, 0x0b] => "OU",
        [0x55, 0x04, 0x06] => "C",
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19] => "DC",
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01] => "UID",
        _ => return None,
    })
}

/// An OID in dotted-decimal form.
fn dotted(oid: &[u8]) -> Option<String> {
    let mut arcs: Vec<u64> = Vec::new();
    let mut acc: u64 = 0;
    for &b in oid {
        acc = acc.checked_mul(128)? | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            arcs.push(acc);
            acc = 0;
        }
    }
    let first = *arcs.first()?;
    let (a, b) = if first < 80 {
        (first / 40, first % 40)
    } else {
        (2, first - 80)
    };
    let mut out = format!("{a}.{b}");
    for arc in &arcs[1..] {
        let _ = write!(out, ".{arc}");
    }
    Some(out)
}

/// The text of a directory string; `None` for other types.
fn decode(tag: u8, value: &[u8]) -> Option<String> {
    match tag {
        // UTF8String, PrintableString, IA5String, NumericString, VisibleString
        0x0c | 0x13 | 0x16 | 0x12 | 0x1a => String::from_utf8(value.to_vec()).ok(),
        // TeletexString: read as Latin-1.
        0x14 => Some(value.iter().map(|&b| char::from(b)).collect()),
        // BMPString: UTF-16BE.
        0x1e if value.len().is_multiple_of(2) => {
            let units = value
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]));
            char::decode_utf16(units)
                .collect::<Result<String, _>>()
                .ok()
        }
        _ => None,
    }
}

/// RFC 4514 §2.4 escaping; control characters are hex-escaped so the result is always a
/// valid header value.
fn escape(text: &str, out: &mut String) {
    let last = text.chars().count().saturating_sub(1);
    for (i, c) in text.chars().enumerate() {
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            c if c.is_control() => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    let _ = write!(out, "\\{b:02x}");
                }
            }
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert_with(dn: rcgen::DistinguishedName) -> Vec<u8> {
        let mut params = rcgen::CertificateParams::new(vec!["client".to_string()]).unwrap();
        params.distinguished_name = dn;
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn subject_is_written_last_rdn_first() {
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::OrganizationName, "Rampart");
        dn.push(rcgen::DnType::CommonName, "client");
        assert_eq!(subject_of(&cert_with(dn)).unwrap(), "CN=client,O=Rampart");
    }

    #[test]
    fn special_characters_are_escaped() {
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::CommonName, "#a, b+c\n ");
        assert_eq!(
            subject_of(&cert_with(dn)).unwrap(),
            "CN=\\#a\\, b\\+c\\0a\\ "
        );
    }

    #[test]
    fn malformed_der_is_none_and_never_panics() {
        let good = {
            let mut dn = rcgen::DistinguishedName::new();
            dn.push(rcgen::DnType::CommonName, "x");
            cert_with(dn)
        };
        for cut in 0..good.len() {
            let _ = subject_of(&good[..cut]);
        }
        assert_eq!(subject_of(&[]), None);
        assert_eq!(subject_of(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
    }

    #[test]
    fn unknown_attributes_are_dotted_with_hex_values() {
        assert_eq!(
            dotted(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d]).unwrap(),
            "1.2.840.113549"
        );
        let mut out = String::new();
        escape("plain", &mut out);
        assert_eq!(out, "plain");
    }
}

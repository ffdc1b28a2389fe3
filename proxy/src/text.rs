//! Numbers and IPv4 addresses written as `Display` writes them, without the formatting
//! machinery (which supports padding and cost ~1,300 instructions per IPv4 address on the hot
//! path): X-Forwarded-For, Forwarded and the access log's line.

use std::net::Ipv4Addr;

/// Appends `n` in decimal.
pub(crate) fn push_decimal(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // Byte by byte: a number has few digits, and `push_str` would check them as UTF-8 and
    // call `memcpy` for them.
    for &d in &digits[at..] {
        out.push(char::from(d));
    }
}

/// Appends `ip` in dotted decimal, built in a buffer and appended once.
pub(crate) fn push_ipv4(out: &mut String, ip: Ipv4Addr) {
    let mut text = [0u8; 15];
    let mut len = 0;
    for (i, octet) in ip.octets().into_iter().enumerate() {
        if i > 0 {
            text[len] = b'.';
            len += 1;
        }
        if octet >= 100 {
            text[len] = b'0' + octet / 100;
            len += 1;
        }
        if octet >= 10 {
            text[len] = b'0' + octet / 10 % 10;
            len += 1;
        }
        text[len] = b'0' + octet % 10;
        len += 1;
    }
    out.push_str(std::str::from_utf8(&text[..len]).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn the_text_is_what_display_writes(n in any::<u64>(), ip in any::<u32>()) {
            let mut out = String::new();
            push_decimal(&mut out, n);
            prop_assert_eq!(&out, &n.to_string());
            let ip = Ipv4Addr::from(ip);
            let mut out = String::new();
            push_ipv4(&mut out, ip);
            prop_assert_eq!(out, ip.to_string());
        }
    }

    #[test]
    fn every_octet() {
        for octet in 0..=255u8 {
            let ip = Ipv4Addr::new(octet, 0, 255, octet);
            let mut out = String::new();
            push_ipv4(&mut out, ip);
            assert_eq!(out, ip.to_string());
        }
    }

    #[test]
    fn edges() {
        for n in [0, 9, 10, 99, 100, 255, u64::MAX] {
            let mut out = String::new();
            push_decimal(&mut out, n);
            assert_eq!(out, n.to_string());
        }
    }
}

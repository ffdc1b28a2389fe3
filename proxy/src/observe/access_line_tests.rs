use super::*;
use proptest::prelude::*;
use std::io;
use std::sync::{Arc, Mutex};

/// What tracing-subscriber's JSON format (set up as the binary sets it up) writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn through_tracing(line: &AccessLine<'_>) -> String {
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || sink.clone())
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .finish();
    tracing::subscriber::with_default(subscriber, || line.emit());
    String::from_utf8(captured.0.lock().unwrap().clone()).unwrap()
}

fn by_hand(line: &AccessLine<'_>) -> String {
    let mut out = String::new();
    line.write(SystemTime::now(), &mut out);
    out
}

fn sample<'a>(text: &'a str, backend: Option<&'a http::uri::Authority>) -> AccessLine<'a> {
    AccessLine {
        request_id: text,
        trace_id: Some(crate::observe::trace::TraceId([0xab; 16])),
        client: "[::1]:4321".parse().unwrap(),
        method: "GET",
        host: text,
        path: text,
        status: 503,
        route: "app",
        upstream: text,
        backend,
        duration_us: 362,
        bytes_in: 7,
        bytes_out: u64::MAX,
        completed: false,
        outcome: "upstream_error",
    }
}

/// The two lines as JSON, with the timestamps taken out (checked apart).
fn parsed(line: &str) -> (serde_json::Value, String) {
    let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
    let ts = v
        .as_object_mut()
        .unwrap()
        .remove("timestamp")
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned();
    (v, ts)
}

/// Keys in the order they appear in the line.
fn keys(line: &str) -> Vec<String> {
    let v: serde_json::Map<String, serde_json::Value> = serde_json::from_str(line).unwrap();
    let mut at: Vec<(usize, String)> = v
        .keys()
        .map(|k| (line.find(&format!("\"{k}\":")).unwrap(), k.clone()))
        .collect();
    at.sort();
    at.into_iter().map(|(_, k)| k).collect()
}

fn is_rfc3339_micros(ts: &str) -> bool {
    let b = ts.as_bytes();
    b.len() == 27
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'.',
            26 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

#[test]
fn the_hand_written_line_is_tracing_subscribers_line() {
    let backend: http::uri::Authority = "10.0.0.7:8080".parse().unwrap();
    for text in ["plain", "q\"uote\\ back\nnew\ttab\u{1}\u{7f}é", ""] {
        for (backend, trace) in [(Some(&backend), true), (None, false)] {
            let mut line = sample(text, backend);
            if !trace {
                line.trace_id = None;
            }
            let (ours, theirs) = (by_hand(&line), through_tracing(&line));
            assert!(ours.ends_with('\n') && theirs.ends_with('\n'));
            assert_eq!(ours.matches('\n').count(), 1, "one line: {ours}");
            let ((a, ts_a), (b, ts_b)) = (parsed(&ours), parsed(&theirs));
            assert_eq!(a, b, "{ours}{theirs}");
            assert_eq!(keys(&ours), keys(&theirs));
            assert!(
                is_rfc3339_micros(&ts_a) && is_rfc3339_micros(&ts_b),
                "{ts_a} {ts_b}"
            );
        }
    }
}

#[test]
fn dates_and_times_of_day() {
    for (secs, text) in [
        (0, "1970-01-01T00:00:00"),
        (951_868_799, "2000-02-29T23:59:59"),
        (946_641_600, "1999-12-31T12:00:00"),
        (1_796_683_394, "2026-12-07T22:43:14"),
        (4_107_542_400, "2100-03-01T00:00:00"),
    ] {
        let mut out = String::new();
        date_time(secs, &mut out);
        assert_eq!(out, text);
    }
    let mut out = String::new();
    timestamp(
        UNIX_EPOCH + std::time::Duration::from_micros(1_796_683_394_000_042),
        &mut out,
    );
    assert_eq!(out, "2026-12-07T22:43:14.000042Z");
}

/// Days in `month` of `year`, the slow way.
fn month_days(year: u64, month: u64) -> u64 {
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ][month as usize - 1]
}

proptest! {
    #[test]
    fn client_addresses_are_what_display_writes(ip in any::<u32>(), v6 in any::<u128>(), port in any::<u16>()) {
        for addr in [
            SocketAddr::from((std::net::Ipv4Addr::from(ip), port)),
            SocketAddr::from((std::net::Ipv6Addr::from(v6), port)),
        ] {
            let mut out = String::new();
            socket_addr(addr, &mut out);
            prop_assert_eq!(out, addr.to_string());
        }
    }

    #[test]
    fn milliseconds_are_what_the_f64_debug_form_writes(micros in 0u64..EXACT_MICROS * 2) {
        let mut out = String::new();
        milliseconds(micros, &mut out);
        prop_assert_eq!(out, format!("{:?}", micros as f64 / 1000.0));
    }

    #[test]
    fn the_word_scan_finds_the_first_byte_to_escape(bytes in prop::collection::vec(
        prop::sample::select(vec![b'a', b'"', b'\\', 0, 0x1f, b' ', b'!', 0x7f, 0x80, 0xa2, 0xff]),
        0..40,
    )) {
        prop_assert_eq!(first_to_escape(&bytes), bytes.iter().position(|&b| needs_escape(b)));
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them(s in any::<String>()) {
        let mut out = String::new();
        string(&s, &mut out);
        prop_assert_eq!(out, serde_json::to_string(&s).unwrap());
    }

    #[test]
    fn the_date_is_the_calendars(days in 0u64..200_000, rem in 0u64..86_400) {
        let (mut year, mut month, mut left) = (1970, 1, days);
        while left >= month_days(year, month) {
            left -= month_days(year, month);
            month += 1;
            if month == 13 {
                month = 1;
                year += 1;
            }
        }
        let mut out = String::new();
        date_time(days * 86_400 + rem, &mut out);
        let want = format!(
            "{year:04}-{month:02}-{:02}T{:02}:{:02}:{:02}",
            left + 1,
            rem / 3_600,
            rem / 60 % 60,
            rem % 60
        );
        prop_assert_eq!(out, want);
    }
}

#[test]
fn milliseconds_at_the_edges() {
    let small = 0..20_000;
    let edges = [
        123_456_789,
        EXACT_MICROS - 1,
        EXACT_MICROS,
        (1 << 53) - 1,
        1 << 53,
        u64::MAX,
    ];
    for micros in small.chain(edges) {
        let mut out = String::new();
        milliseconds(micros, &mut out);
        assert_eq!(out, format!("{:?}", micros as f64 / 1000.0), "{micros} µs");
    }
}

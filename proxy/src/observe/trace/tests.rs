use super::*;
use proptest::prelude::*;

const SPEC_EXAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

#[test]
fn parses_the_spec_example() {
    let p = TraceParent::parse(SPEC_EXAMPLE.as_bytes()).unwrap();
    assert_eq!(
        TraceId(p.trace_id).to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(
        p.parent_id,
        [0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7]
    );
    assert_eq!(p.flags, 0x01);
    assert_eq!(&p.format()[..], SPEC_EXAMPLE.as_bytes());
}

#[test]
fn refuses_what_the_spec_calls_invalid() {
    let bad = [
        "",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0z",
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
    ];
    for b in bad {
        assert_eq!(TraceParent::parse(b.as_bytes()), None, "{b:?}");
    }
}

#[test]
fn a_later_version_is_read_as_version_00() {
    let later = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-comes-next";
    let p = TraceParent::parse(later.as_bytes()).unwrap();
    assert_eq!(&p.format()[..], SPEC_EXAMPLE.as_bytes());
}

#[test]
fn a_valid_traceparent_keeps_trace_id_and_flags_with_a_new_parent() {
    let mut h = HeaderMap::new();
    h.insert(
        TRACEPARENT,
        HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"),
    );
    h.insert(TRACESTATE, HeaderValue::from_static("congo=t61rcWkgMzE"));
    let ctx = TraceContext::accept(&mut h);
    let sent = TraceParent::parse(h[TRACEPARENT].as_bytes()).unwrap();
    assert_eq!(ctx.trace_id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(sent.trace_id, ctx.trace_id.0);
    assert_eq!(sent.flags, 0x00, "flags kept");
    assert_eq!(sent.parent_id, ctx.span_id);
    assert_ne!(
        sent.parent_id,
        [0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7]
    );
    assert_eq!(
        ctx.caller,
        Some([0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7])
    );
    assert_eq!(
        h[TRACESTATE], "congo=t61rcWkgMzE",
        "tracestate passes through"
    );
}

#[test]
fn an_invalid_or_missing_traceparent_starts_a_new_trace_without_tracestate() {
    for given in [
        Some("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
        None,
    ] {
        let mut h = HeaderMap::new();
        if let Some(v) = given {
            h.insert(TRACEPARENT, HeaderValue::from_static(v));
        }
        h.insert(TRACESTATE, HeaderValue::from_static("congo=t61rcWkgMzE"));
        let ctx = TraceContext::accept(&mut h);
        let sent = TraceParent::parse(h[TRACEPARENT].as_bytes()).unwrap();
        assert_eq!(sent.trace_id, ctx.trace_id.0);
        assert_eq!(sent.flags, FLAG_SAMPLED);
        assert_eq!(ctx.caller, None);
        assert!(h.get(TRACESTATE).is_none());
    }
}

#[test]
fn two_traceparent_headers_are_invalid() {
    let mut h = HeaderMap::new();
    h.append(TRACEPARENT, HeaderValue::from_static(SPEC_EXAMPLE));
    h.append(TRACEPARENT, HeaderValue::from_static(SPEC_EXAMPLE));
    let ctx = TraceContext::accept(&mut h);
    assert_ne!(ctx.trace_id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(h.get_all(TRACEPARENT).iter().count(), 1);
}

proptest! {
    #[test]
    fn format_then_parse_round_trips(
        trace_id in any::<[u8; 16]>().prop_filter("not zero", |t| *t != [0; 16]),
        parent_id in any::<[u8; 8]>().prop_filter("not zero", |p| *p != [0; 8]),
        flags in any::<u8>(),
    ) {
        let p = TraceParent { trace_id, parent_id, flags };
        let text = p.format();
        prop_assert_eq!(TraceParent::parse(&text), Some(p));
        let shown = TraceId(trace_id).to_string();
        prop_assert_eq!(&text[3..35], shown.as_bytes());
    }

    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
        let _ = TraceParent::parse(&bytes);
    }
}

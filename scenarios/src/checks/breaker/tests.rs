use std::time::Duration;

use super::*;
use crate::data::ActionRecord;

fn run(states: &[(f64, &str)]) -> RunData {
    let action = |name: &str, at_s: f64| ActionRecord {
        name: name.to_owned(),
        label: format!("set_behavior b1 ({name})"),
        at_s,
        detail: None,
        error: None,
    };
    let mut run = RunData {
        actions: vec![action("break", 3.0), action("heal", 8.0)],
        ..RunData::default()
    };
    run.breaker_states.insert(
        "b1".to_owned(),
        states.iter().map(|(t, s)| (*t, (*s).to_owned())).collect(),
    );
    run
}

fn trip(recovery: bool) -> Breaker {
    Breaker {
        backend: "b1".to_owned(),
        after: Some("break".to_owned()),
        opens_within: Some(Duration::from_secs(1)),
        recovery: recovery.then(|| "heal".to_owned()),
        closes_within: recovery.then_some(Duration::from_secs(4)),
        ..Breaker::default()
    }
}

const TRIP: [(f64, &str); 6] = [
    (0.05, "closed"),
    (3.42, "open"),
    (5.45, "half_open"),
    (5.5, "open"),
    (9.1, "half_open"),
    (9.15, "closed"),
];

#[test]
fn opens_in_time_and_closes_through_half_open() {
    let out = trip(true).evaluate(&run(&TRIP));
    assert!(out.passed, "{out:?}");
    assert_eq!(
        out.observed,
        "open at break+0.42s, half_open at heal+1.10s, closed at heal+1.15s"
    );
    assert_eq!(
        out.expected,
        "open by break+1s, half_open then closed by heal+4s"
    );
}

#[test]
fn without_recovery_only_the_opening_counts() {
    let out = trip(false).evaluate(&run(&TRIP[..2]));
    assert!(out.passed, "{out:?}");
    assert_eq!(out.observed, "open at break+0.42s");
}

#[test]
fn opening_late_or_never_fails() {
    let out = trip(false).evaluate(&run(&[(0.05, "closed"), (4.5, "open")]));
    assert!(!out.passed, "{out:?}");
    assert_eq!(out.observed, "open late, at break+1.50s");
    let out = trip(true).evaluate(&run(&[(0.05, "closed")]));
    assert!(!out.passed, "{out:?}");
    assert!(out.observed.contains("never open"), "{out:?}");
}

#[test]
fn closing_without_half_open_or_too_late_fails() {
    let out = trip(true).evaluate(&run(&[(0.05, "closed"), (3.4, "open"), (8.5, "closed")]));
    assert!(!out.passed, "{out:?}");
    assert!(out.observed.contains("no half_open"), "{out:?}");
    let late = [
        (0.05, "closed"),
        (3.4, "open"),
        (12.5, "half_open"),
        (12.6, "closed"),
    ];
    let out = trip(true).evaluate(&run(&late));
    assert!(!out.passed, "{out:?}");
    assert!(out.observed.ends_with("closed at heal+4.60s"), "{out:?}");
    let out = trip(true).evaluate(&run(&late[..2]));
    assert!(!out.passed, "{out:?}");
    assert!(out.observed.contains("not closed after heal"), "{out:?}");
}

#[test]
fn never_opens_holds_only_while_closed() {
    let check = Breaker {
        backend: "b1".to_owned(),
        never_opens: true,
        ..Breaker::default()
    };
    let out = check.evaluate(&run(&[(0.05, "closed")]));
    assert!(out.passed, "{out:?}");
    let out = check.evaluate(&run(&TRIP));
    assert!(!out.passed, "{out:?}");
    assert_eq!(out.observed, "open at 3.42s");
}

#[test]
fn missing_data_fails() {
    let mut data = run(&TRIP);
    data.breaker_states.clear();
    let out = trip(true).evaluate(&data);
    assert!(!out.passed, "{out:?}");
    assert!(out.observed.contains("no breaker state"), "{out:?}");
    let mut data = run(&TRIP);
    data.actions.truncate(1);
    let out = trip(true).evaluate(&data);
    assert!(!out.passed, "{out:?}");
    assert_eq!(out.observed, "action `heal` did not run");
}

#[test]
fn field_combinations_are_validated_naming_the_key() {
    let actions = [
        ("break".to_owned(), Duration::from_secs(3)),
        ("heal".to_owned(), Duration::from_secs(8)),
    ];
    let ids = ["b0".to_owned(), "b1".to_owned()];
    let err = |c: Breaker| c.validate(&actions, &ids).expect_err("invalid");
    assert!(trip(true).validate(&actions, &ids).is_ok());
    assert!(trip(false).validate(&actions, &ids).is_ok());
    let never = Breaker {
        backend: "b0".to_owned(),
        never_opens: true,
        ..Breaker::default()
    };
    assert!(never.clone().validate(&actions, &ids).is_ok());
    let e = err(Breaker {
        opens_within: Some(Duration::from_secs(1)),
        ..never.clone()
    });
    assert!(e.starts_with("opens_within: "), "{e}");
    let e = err(Breaker {
        backend: "b7".to_owned(),
        ..never
    });
    assert_eq!(e, "backend: no backend `b7`");
    let e = err(Breaker {
        after: None,
        ..trip(false)
    });
    assert!(e.starts_with("after: ") && e.contains("never_opens"), "{e}");
    let e = err(Breaker {
        opens_within: None,
        ..trip(false)
    });
    assert!(e.starts_with("opens_within: "), "{e}");
    let e = err(Breaker {
        closes_within: None,
        ..trip(true)
    });
    assert!(e.starts_with("closes_within: "), "{e}");
    let e = err(Breaker {
        recovery: None,
        ..trip(true)
    });
    assert!(e.starts_with("recovery: "), "{e}");
    let e = err(Breaker {
        after: Some("heal".to_owned()),
        recovery: Some("break".to_owned()),
        ..trip(true)
    });
    assert_eq!(e, "recovery: `break` runs before `heal`");
    let e = err(Breaker {
        after: Some("kill".to_owned()),
        ..trip(false)
    });
    assert_eq!(e, "after: no timeline action `kill`");
}

#[test]
fn parses_from_yaml_with_optional_fields() {
    let c: Breaker = serde_saphyr::from_str(
        "{ backend: b1, after: break, opens_within: 1s, recovery: heal, closes_within: 4s }",
    )
    .expect("parses");
    assert_eq!(c.closes_within, Some(Duration::from_secs(4)));
    let c: Breaker = serde_saphyr::from_str("{ backend: b0, never_opens: true }").expect("parses");
    assert!(c.never_opens && c.after.is_none());
    assert!(serde_saphyr::from_str::<Breaker>("{ backend: b0, opens_in: 1s }").is_err());
}

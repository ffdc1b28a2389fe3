//! The state machine on a fake clock (nanoseconds as plain numbers, no sleeping).

use super::*;
use crate::config::WindowKind;
use std::time::Duration;

const MS: u64 = 1_000_000;
const SEC: u64 = 1_000_000_000;

/// Window 10 / minimum 5 / 50 %, 3 half-open probes, 10 s open; `f` changes the rest.
fn config(f: impl FnOnce(&mut BreakerConfig)) -> Arc<BreakerConfig> {
    let mut c = BreakerConfig {
        window_size: 10,
        minimum_calls: 5,
        failure_rate_threshold: 50,
        half_open_calls: 3,
        wait_in_open: Duration::from_secs(10),
        slow_call_duration: Duration::from_secs(1),
        ..BreakerConfig::default()
    };
    f(&mut c);
    Arc::new(c)
}

#[derive(Default)]
struct Log(Mutex<Vec<Transition>>);

impl TransitionListener for Log {
    fn on_transition(&self, t: &Transition) {
        self.0.lock().unwrap().push(*t);
    }
}

impl Log {
    fn states(&self) -> Vec<(State, State)> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|t| (t.from, t.to))
            .collect()
    }
}

fn breaker(cfg: Arc<BreakerConfig>) -> (CircuitBreaker, Arc<Log>) {
    let log = Arc::new(Log::default());
    (CircuitBreaker::with_listener(cfg, log.clone()), log)
}

fn outcome(c: char) -> CallOutcome {
    match c {
        'F' => CallOutcome {
            failed: true,
            duration: Duration::from_millis(5),
        },
        'S' => CallOutcome {
            failed: false,
            duration: Duration::from_millis(5),
        },
        'L' => CallOutcome {
            failed: false,
            duration: Duration::from_secs(2),
        },
        other => panic!("unknown outcome {other:?}"),
    }
}

/// Plays `calls` (F failed, S succeeded, L slow success) one per millisecond from `start`.
fn play(b: &CircuitBreaker, start: u64, calls: &str) {
    for (i, c) in calls.chars().filter(|c| !c.is_whitespace()).enumerate() {
        let now = start + i as u64 * MS;
        let permit = b.try_acquire(now).expect("permitted");
        b.record(permit, now, outcome(c));
    }
}

/// Opens `b` at time `at` with failures (five at most).
fn open(b: &CircuitBreaker, at: u64) {
    for _ in 0..5 {
        let Ok(p) = b.try_acquire(at) else { break };
        b.record(p, at, outcome('F'));
    }
    assert_eq!(b.state(), State::Open);
}

#[test]
fn closed_opens_only_at_the_failure_rate_once_the_minimum_is_in() {
    for (calls, want, why) in [
        ("FFFSS", State::Open, "3 of 5 failed: 60 %"),
        ("SSFFF", State::Open, "order does not matter"),
        ("FFSSS", State::Closed, "2 of 5: 40 %"),
        ("FFFF", State::Closed, "4 calls, below the minimum of 5"),
        ("F", State::Closed, "one failure of one call"),
        (
            "SSSSS SSSSS FFFFF",
            State::Open,
            "window of 10 holds 5 S + 5 F: 50 % reaches 50",
        ),
        ("SSSSS SSSSS FFFF", State::Closed, "4 of 10: 40 %"),
        (
            "SSSSS FFFF SSSSS SSSSS FFFF",
            State::Closed,
            "the early failures left the window",
        ),
    ] {
        let (b, log) = breaker(config(|_| {}));
        play(&b, SEC, calls);
        assert_eq!(b.state(), want, "{calls}: {why}");
        let opened = want == State::Open;
        assert_eq!(
            log.states().len(),
            usize::from(opened),
            "{calls}: one transition"
        );
    }
}

#[test]
fn the_opening_transition_carries_the_rates_and_the_reason() {
    let (b, log) = breaker(config(|_| {}));
    play(&b, SEC, "FFFSS");
    let t = log.0.lock().unwrap()[0];
    assert_eq!(
        (t.from, t.to, t.reason),
        (State::Closed, State::Open, Reason::FailureRate)
    );
    assert_eq!(t.failure_rate, Some(60.0));
    assert_eq!(t.slow_call_rate, Some(0.0));
    let s = b.metrics_snapshot(SEC);
    assert_eq!(
        (s.state, s.buffered_calls, s.failed_calls),
        (State::Open, 5, 3)
    );
    assert_eq!(s.failure_rate, Some(60.0));
}

#[test]
fn slow_calls_open_with_no_failure_and_the_threshold_is_strictly_longer() {
    let cfg = config(|c| c.slow_call_rate_threshold = 60);
    let (b, log) = breaker(cfg.clone());
    play(&b, SEC, "LLLSS");
    assert_eq!(b.state(), State::Open);
    let t = log.0.lock().unwrap()[0];
    assert_eq!(t.reason, Reason::SlowCallRate);
    assert_eq!((t.failure_rate, t.slow_call_rate), (Some(0.0), Some(60.0)));
    assert_eq!(b.metrics_snapshot(SEC).totals.slow, 3);

    let (b, _) = breaker(cfg);
    for _ in 0..5 {
        let p = b.try_acquire(SEC).unwrap();
        b.record(
            p,
            SEC,
            CallOutcome {
                failed: false,
                duration: Duration::from_secs(1),
            },
        );
    }
    assert_eq!(
        b.state(),
        State::Closed,
        "exactly slow_call_duration is not slow"
    );
}

#[test]
fn half_open_admits_exactly_its_probes_and_their_rates_decide() {
    for (probes, want) in [
        ("FFS", State::Open),
        ("SFF", State::Open),
        ("SSS", State::Closed),
        ("FSS", State::Closed),
    ] {
        let (b, log) = breaker(config(|_| {}));
        open(&b, SEC);
        let t = 11 * SEC;
        let permits: Vec<Permit> = (0..3).map(|_| b.try_acquire(t).unwrap()).collect();
        assert_eq!(b.state(), State::HalfOpen);
        assert_eq!(
            b.try_acquire(t),
            Err(NotPermitted {
                state: State::HalfOpen
            }),
            "a 4th call while 3 are in flight"
        );
        for (p, c) in permits.into_iter().zip(probes.chars()) {
            assert_eq!(
                b.state(),
                State::HalfOpen,
                "{probes}: undecided before the 3rd"
            );
            b.record(p, t, outcome(c));
        }
        assert_eq!(b.state(), want, "{probes}");
        assert_eq!(
            log.states().last(),
            Some(&(State::HalfOpen, want)),
            "{probes}"
        );
        if want == State::Closed {
            assert_eq!(
                b.metrics_snapshot(t).buffered_calls,
                0,
                "closing resets the window"
            );
        }
    }
}

#[test]
fn a_released_probe_is_handed_out_again_and_a_dropped_guard_releases() {
    let b = Arc::new(CircuitBreaker::new(config(|_| {})));
    open(&b, SEC);
    let t = 11 * SEC;
    let a = b.try_acquire(t).unwrap();
    let g = b.acquire_guarded(t).unwrap();
    let _c = b.try_acquire(t).unwrap();
    assert!(b.try_acquire(t).is_err());
    assert!(!b.would_permit(t), "every probe is out");
    b.release(a);
    assert!(b.would_permit(t));
    let _d = b.try_acquire(t).unwrap();
    assert!(b.try_acquire(t).is_err());
    drop(g);
    assert!(b.acquire_guarded(t).is_ok(), "the guard gave its slot back");
}

#[test]
fn late_outcomes_of_calls_admitted_while_closed_are_not_probes() {
    let (b, _) = breaker(config(|_| {}));
    let early = b.try_acquire(SEC).unwrap();
    open(&b, SEC);
    let t = 11 * SEC;
    assert_eq!(b.tick(t), State::HalfOpen);
    b.record(early, t, outcome('F'));
    assert_eq!(b.metrics_snapshot(t).buffered_calls, 0);
    play(&b, t, "SSS");
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn open_turns_half_open_at_its_deadline_without_a_request() {
    let (b, log) = breaker(config(|_| {}));
    open(&b, SEC);
    let deadline = 11 * SEC;
    assert_eq!(b.next_deadline(), Some(deadline));
    assert!(!b.would_permit(deadline - 1) && b.would_permit(deadline));
    assert_eq!(b.state(), State::Open, "asking changes nothing");
    assert_eq!(
        b.try_acquire(deadline - 1),
        Err(NotPermitted { state: State::Open })
    );
    assert_eq!(b.tick(deadline - 1), State::Open);
    assert_eq!(
        b.state_at(deadline),
        State::HalfOpen,
        "due, not yet applied"
    );
    assert_eq!(b.state(), State::Open);
    assert_eq!(b.tick(deadline + 5 * MS), State::HalfOpen);
    let t = *log.0.lock().unwrap().last().unwrap();
    assert_eq!(
        (t.from, t.to, t.reason),
        (State::Open, State::HalfOpen, Reason::WaitInOpenElapsed)
    );
    assert_eq!(
        t.at, deadline,
        "dated at the deadline, not when the timer ran"
    );
    assert_eq!(b.next_deadline(), None, "half-open waits for its probes");
    assert_eq!(b.metrics_snapshot(deadline).not_permitted, 1);
}

#[test]
fn max_wait_in_half_open_reopens_and_the_cycle_continues() {
    let (b, log) = breaker(config(|c| {
        c.max_wait_in_half_open = Some(Duration::from_secs(5))
    }));
    open(&b, SEC);
    assert_eq!(b.tick(11 * SEC), State::HalfOpen);
    let _probe = b.try_acquire(11 * SEC).unwrap();
    assert_eq!(b.next_deadline(), Some(16 * SEC));
    assert_eq!(b.tick(16 * SEC - 1), State::HalfOpen);
    assert_eq!(b.tick(16 * SEC), State::Open);
    assert_eq!(
        log.0.lock().unwrap().last().unwrap().reason,
        Reason::MaxWaitInHalfOpenElapsed
    );
    assert_eq!(b.next_deadline(), Some(26 * SEC));
    // A timer that fires late applies the transitions due, each dated at its deadline.
    assert_eq!(b.tick(32 * SEC), State::Open);
    let at: Vec<u64> = log.0.lock().unwrap().iter().map(|t| t.at / SEC).collect();
    assert_eq!(at, [1, 11, 16, 26, 31]);
}

#[test]
fn a_time_window_forgets_calls_older_than_its_size() {
    let cfg = config(|c| c.window = WindowKind::Time);
    // Four failures at 0.5 s, then one at 10.5 s: the first four have left the 10 s window.
    let (b, _) = breaker(cfg.clone());
    play(&b, SEC / 2, "FFFF");
    play(&b, 10 * SEC + SEC / 2, "F");
    assert_eq!(b.state(), State::Closed);
    assert_eq!(b.metrics_snapshot(10 * SEC + SEC / 2).buffered_calls, 1);
    // The same at 9.5 s: still inside, five failures open.
    let (b, _) = breaker(cfg.clone());
    play(&b, SEC / 2, "FFFF");
    play(&b, 9 * SEC + SEC / 2, "F");
    assert_eq!(b.state(), State::Open);
    // Per-second buckets: calls spread over time drop out one second at a time.
    let (b, _) = breaker(cfg);
    for s in 0..10 {
        play(&b, s * SEC, "S");
    }
    for (at, want) in [(9, 10), (10, 9), (14, 5), (19, 0), (500, 0)] {
        assert_eq!(
            b.metrics_snapshot(at * SEC).buffered_calls,
            want,
            "at {at}s"
        );
    }
}

#[test]
fn the_count_window_clamps_its_minimum_but_the_time_window_does_not() {
    let (b, _) = breaker(config(|c| c.minimum_calls = 50));
    play(&b, SEC, "FFFFF FFFFF");
    assert_eq!(
        b.state(),
        State::Open,
        "minimum 50 clamped to the window of 10"
    );
    let (b, _) = breaker(config(|c| {
        c.minimum_calls = 50;
        c.window = WindowKind::Time;
    }));
    play(&b, SEC, "FFFFF FFFFF");
    assert_eq!(b.state(), State::Closed, "a time window needs all 50");
    assert_eq!(b.metrics_snapshot(SEC).failure_rate, None);
}

#[test]
fn disabled_permits_everything_and_records_nothing() {
    let (b, _) = breaker(config(|_| {}));
    assert!(b.transition_to(State::Disabled, SEC).is_some());
    play(&b, SEC, "FFFFF FFFFF FFFFF");
    let s = b.metrics_snapshot(SEC);
    assert_eq!(
        (s.state, s.buffered_calls, s.totals.failed),
        (State::Disabled, 0, 0)
    );
    assert_eq!(b.transition_to(State::Disabled, SEC), None, "already there");
    assert_eq!(
        b.transition_to(State::Closed, SEC).unwrap().from,
        State::Disabled
    );
    play(&b, SEC, "FFFFF");
    assert_eq!(b.state(), State::Open, "closed again records");
}

#[test]
fn forced_open_permits_nothing_however_long() {
    let (b, log) = breaker(config(|_| {}));
    let t = b.transition_to(State::ForcedOpen, SEC).unwrap();
    assert_eq!(
        (t.from, t.to, t.reason),
        (State::Closed, State::ForcedOpen, Reason::Admin)
    );
    for at in [SEC, 100 * SEC, 10_000 * SEC] {
        assert_eq!(
            b.try_acquire(at),
            Err(NotPermitted {
                state: State::ForcedOpen
            })
        );
        assert_eq!(b.tick(at), State::ForcedOpen);
    }
    assert_eq!(b.next_deadline(), None);
    assert_eq!(b.metrics_snapshot(SEC).totals.not_permitted, 3);
    assert_eq!(log.states(), [(State::Closed, State::ForcedOpen)]);
}

#[test]
fn reset_closes_with_an_empty_window() {
    let (b, _) = breaker(config(|_| {}));
    play(&b, SEC, "FFSS");
    assert_eq!(
        b.reset(SEC),
        None,
        "already closed: only the window is cleared"
    );
    play(&b, SEC, "F");
    assert_eq!(b.metrics_snapshot(SEC).buffered_calls, 1);
    open(&b, SEC);
    let t = b.reset(2 * SEC).unwrap();
    assert_eq!((t.from, t.to), (State::Open, State::Closed));
    assert_eq!(b.metrics_snapshot(2 * SEC).buffered_calls, 0);
}

#[test]
fn request_outcomes_are_classified_with_the_record_list() {
    use crate::config::FailureKind;
    let b = CircuitBreaker::new(Arc::new(BreakerConfig::default()));
    let rtt = Duration::from_millis(3);
    let response = |status| b.outcome(&Outcome::Response { status, rtt });
    assert!(response(503).failed && response(500).failed);
    assert!(!response(501).failed && !response(505).failed && !response(404).failed);
    let failed = b.outcome(&Outcome::Failed {
        kind: FailureKind::Reset,
        elapsed: rtt,
    });
    assert_eq!(
        failed,
        CallOutcome {
            failed: true,
            duration: rtt
        }
    );
}

#[test]
fn two_threads_never_get_more_than_the_probes() {
    for _ in 0..50 {
        let b = Arc::new(CircuitBreaker::new(config(|c| c.half_open_calls = 7)));
        open(&b, SEC);
        let granted: usize = std::thread::scope(|s| {
            let hands: Vec<_> = (0..2)
                .map(|_| {
                    let b = b.clone();
                    s.spawn(move || {
                        let mut kept = Vec::new();
                        for _ in 0..20 {
                            if let Ok(p) = b.try_acquire(11 * SEC) {
                                kept.push(p);
                            }
                        }
                        kept.len()
                    })
                })
                .collect();
            hands.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(granted, 7);
    }
}

//! Ask a circuit breaker for permission and record the outcome: alone, and with two threads
//! on the same breaker. Also the open breaker's refusal and the retry budget.
//!
//! `cargo bench -p proxy --bench breaker -- --warm-up-time 1 --measurement-time 2`
#![forbid(unsafe_code)]

use criterion::{Criterion, criterion_group, criterion_main};
use proxy::config::{BreakerConfig, BudgetConfig, WindowKind};
use proxy::resilience::breaker::{CallOutcome, CircuitBreaker, State};
use proxy::resilience::retry::RetryBudget;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

const OK: CallOutcome = CallOutcome {
    failed: false,
    duration: Duration::from_millis(3),
};

fn breaker(window: WindowKind) -> Arc<CircuitBreaker> {
    Arc::new(CircuitBreaker::new(Arc::new(BreakerConfig {
        window,
        ..BreakerConfig::default()
    })))
}

/// One permission + one record at a time that advances 1 µs per call.
fn call(b: &CircuitBreaker, now: u64) {
    let permit = b.try_acquire(now).unwrap();
    b.record(permit, now, black_box(OK));
}

fn alone(c: &mut Criterion) {
    for (name, window) in [("count", WindowKind::Count), ("time", WindowKind::Time)] {
        let b = breaker(window);
        let mut now = 1;
        c.bench_function(
            &format!("breaker/acquire+record/{name}/1 thread"),
            |bench| {
                bench.iter(|| {
                    now += 1_000;
                    call(&b, now);
                })
            },
        );
    }
    let b = breaker(WindowKind::Count);
    b.transition_to(State::Open, 1);
    c.bench_function("breaker/refused while open", |bench| {
        bench.iter(|| black_box(b.try_acquire(black_box(2)).is_err()))
    });
}

fn contended(c: &mut Criterion) {
    for (name, window) in [("count", WindowKind::Count), ("time", WindowKind::Time)] {
        let b = breaker(window);
        c.bench_function(
            &format!("breaker/acquire+record/{name}/2 threads"),
            |bench| {
                // Time per call as each of two threads sees it, both on the same breaker.
                bench.iter_custom(|iters| {
                    let start = Instant::now();
                    std::thread::scope(|s| {
                        for t in 0..2u64 {
                            let b = &b;
                            s.spawn(move || {
                                for i in 0..iters {
                                    call(b, 1 + (i * 2 + t) * 1_000);
                                }
                            });
                        }
                    });
                    start.elapsed()
                })
            },
        );
    }
}

fn budget(c: &mut Criterion) {
    let budget = RetryBudget::new(&BudgetConfig {
        ratio: 0.2,
        min_per_second: 10,
    });
    let mut now = 1;
    c.bench_function("retry budget/deposit+withdraw", |bench| {
        bench.iter(|| {
            now += 1_000;
            budget.deposit(now);
            black_box(budget.try_withdraw(now))
        })
    });
}

criterion_group!(benches, alone, contended, budget);
criterion_main!(benches);

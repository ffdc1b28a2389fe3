//! The latency sampler against its parameters, over 2,000 seeded draws, and end to end through
//! a running backend.

use std::time::Duration;

use mock_backends::Distribution;
use rand::SeedableRng as _;
use rand::rngs::SmallRng;

const SAMPLES: usize = 2000;

/// Sorted draws in milliseconds.
fn draws(distribution: &Distribution) -> Vec<f64> {
    let mut rng = SmallRng::seed_from_u64(42);
    let mut values: Vec<f64> = (0..SAMPLES)
        .map(|_| distribution.sample(&mut rng).as_secs_f64() * 1000.0)
        .collect();
    values.sort_by(f64::total_cmp);
    values
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn stddev(values: &[f64]) -> f64 {
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (values.len() - 1) as f64).sqrt()
}

fn near(actual: f64, expected: f64, tolerance: f64, what: &str) {
    assert!(
        (actual - expected).abs() <= tolerance,
        "{what}: {actual:.2} not within {tolerance} of {expected}"
    );
}

#[test]
fn fixed_is_always_the_delay() {
    let values = draws(&Distribution::Fixed {
        delay: Duration::from_millis(250),
    });
    assert!(values.iter().all(|v| (*v - 250.0).abs() < 1e-9));
}

#[test]
fn uniform_stays_in_bounds_with_the_right_median_and_spread() {
    let values = draws(&Distribution::Uniform {
        lower: Duration::from_millis(100),
        upper: Duration::from_millis(300),
    });
    assert!(values[0] >= 100.0 && values[SAMPLES - 1] <= 300.0);
    near(quantile(&values, 0.5), 200.0, 10.0, "median");
    near(
        quantile(&values, 0.75) - quantile(&values, 0.25),
        100.0,
        12.0,
        "interquartile range",
    );
}

#[test]
fn normal_has_its_mean_and_stddev() {
    let values = draws(&Distribution::Normal {
        mean: Duration::from_millis(200),
        stddev: Duration::from_millis(40),
    });
    near(quantile(&values, 0.5), 200.0, 5.0, "median");
    near(stddev(&values), 40.0, 4.0, "standard deviation");
}

#[test]
fn lognormal_has_its_median_and_sigma_and_respects_max() {
    let median = Duration::from_millis(100);
    let values = draws(&Distribution::Lognormal {
        median,
        sigma: 0.5,
        max: None,
    });
    near(quantile(&values, 0.5), 100.0, 6.0, "median");
    let logs: Vec<f64> = values.iter().map(|v| v.ln()).collect();
    near(stddev(&logs), 0.5, 0.05, "sigma of ln(draws)");

    let capped = draws(&Distribution::Lognormal {
        median,
        sigma: 0.5,
        max: Some(Duration::from_millis(150)),
    });
    assert!(capped[SAMPLES - 1] <= 150.0 + 1e-9);
    // P(X > 150ms) = P(Z > ln(1.5) / 0.5) ≈ 0.209
    let at_cap = capped.iter().filter(|v| **v >= 150.0 - 1e-9).count() as f64 / SAMPLES as f64;
    near(at_cap, 0.209, 0.04, "share of draws at the cap");
}

#[test]
fn seeded_sampling_repeats() {
    let distribution = Distribution::Normal {
        mean: Duration::from_millis(50),
        stddev: Duration::from_millis(10),
    };
    assert_eq!(draws(&distribution), draws(&distribution));
}

/// Times `n` sequential GETs of `/` against a backend with this behaviour, in milliseconds.
async fn timed_requests(yaml: &str, n: usize) -> Vec<f64> {
    let backend = crate::common::backend_yaml(yaml).await;
    let client = crate::common::client();
    let mut millis = Vec::with_capacity(n);
    for _ in 0..n {
        let started = std::time::Instant::now();
        let response = crate::common::within(client.get(backend.url()).send())
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        crate::common::within(response.bytes()).await.unwrap();
        millis.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    assert_eq!(
        backend.stats().faults.get("latency").copied(),
        Some(n as u64)
    );
    backend.shutdown().await;
    millis.sort_by(f64::total_cmp);
    millis
}

#[tokio::test]
async fn fixed_latency_delays_every_response_end_to_end() {
    let millis = timed_requests(
        "seed: 7\nlatency: { distribution: { type: fixed, delay: 20ms } }",
        50,
    )
    .await;
    // Lower bound only: a loaded machine may be slower, never faster.
    assert!(
        millis[0] >= 20.0,
        "fastest response took {:.2} ms",
        millis[0]
    );
}

#[tokio::test]
async fn uniform_latency_has_its_median_end_to_end() {
    let millis = timed_requests(
        "seed: 7\nlatency: { distribution: { type: uniform, lower: 10ms, upper: 30ms } }",
        100,
    )
    .await;
    assert!(
        millis[0] >= 10.0,
        "fastest response took {:.2} ms",
        millis[0]
    );
    // Seeded draws have a median near 20 ms; the request itself only adds time. The band is
    // wide on the upper side so a busy machine does not fail the test.
    let median = quantile(&millis, 0.5);
    assert!(
        (15.0..=250.0).contains(&median),
        "median {median:.2} ms outside 15..=250"
    );
}

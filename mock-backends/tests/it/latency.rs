//! The latency sampler against its parameters, over 2,000 seeded draws.

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

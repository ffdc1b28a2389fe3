//! Latency distributions and their sampler.

use std::time::Duration;

use rand::Rng;
use rand_distr::{Distribution as _, LogNormal, Normal};
use serde::{Deserialize, Serialize};

use crate::behavior::BehaviorError;
use crate::duration;

/// How an injected delay is drawn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Distribution {
    /// Always the same delay.
    Fixed {
        /// The delay.
        #[serde(with = "duration")]
        delay: Duration,
    },
    /// Uniform between `lower` and `upper`, both included.
    Uniform {
        /// Smallest delay.
        #[serde(with = "duration")]
        lower: Duration,
        /// Largest delay.
        #[serde(with = "duration")]
        upper: Duration,
    },
    /// Normal around `mean`; negative draws become zero.
    Normal {
        /// Mean delay.
        #[serde(with = "duration")]
        mean: Duration,
        /// Standard deviation.
        #[serde(with = "duration")]
        stddev: Duration,
    },
    /// Log-normal with the given median and shape `sigma`, capped at `max` when set.
    Lognormal {
        /// Median delay (the distribution's `exp(mu)`).
        #[serde(with = "duration")]
        median: Duration,
        /// Shape: standard deviation of the underlying normal (0.5 is a typical tail).
        sigma: f64,
        /// Upper cap for a draw.
        #[serde(
            default,
            with = "duration::option",
            skip_serializing_if = "Option::is_none"
        )]
        max: Option<Duration>,
    },
}

impl Distribution {
    /// Draws one delay from the distribution, capped at 5 minutes (the longest wait allowed).
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Duration {
        self.draw(rng).min(duration::MAX_WAIT)
    }

    fn draw<R: Rng + ?Sized>(&self, rng: &mut R) -> Duration {
        match self {
            Self::Fixed { delay } => *delay,
            Self::Uniform { lower, upper } => {
                let (lo, hi) = (nanos(*lower), nanos(*upper).max(nanos(*lower)));
                Duration::from_nanos(rng.random_range(lo..=hi))
            }
            Self::Normal { mean, stddev } => {
                match Normal::new(mean.as_secs_f64(), stddev.as_secs_f64()) {
                    Ok(normal) => secs(normal.sample(rng)),
                    Err(_) => *mean,
                }
            }
            Self::Lognormal { median, sigma, max } => {
                let draw = match LogNormal::new(median.as_secs_f64().ln(), *sigma) {
                    Ok(lognormal) => secs(lognormal.sample(rng)),
                    Err(_) => *median,
                };
                max.map_or(draw, |cap| draw.min(cap))
            }
        }
    }

    /// Checks the parameters; `field` is the key path used in error messages.
    pub(crate) fn validate(&self, field: &str) -> Result<(), BehaviorError> {
        let longest = match self {
            Self::Fixed { delay } => ("delay", *delay),
            Self::Uniform { upper, .. } => ("upper", *upper),
            Self::Normal { mean, .. } => ("mean", *mean),
            Self::Lognormal { median, max, .. } => match max {
                Some(max) if max > median => ("max", *max),
                _ => ("median", *median),
            },
        };
        duration::check_wait(&format!("{field}.{}", longest.0), longest.1)?;
        match self {
            Self::Fixed { .. } => Ok(()),
            Self::Uniform { lower, upper } if lower > upper => Err(BehaviorError::invalid(
                format!("{field}.lower"),
                format!("must not exceed upper ({upper:?}), got {lower:?}"),
            )),
            Self::Uniform { .. } | Self::Normal { .. } => Ok(()),
            Self::Lognormal { median, sigma, .. } => {
                if median.is_zero() {
                    return Err(BehaviorError::invalid(
                        format!("{field}.median"),
                        "must be above zero",
                    ));
                }
                if !sigma.is_finite() || *sigma < 0.0 {
                    return Err(BehaviorError::invalid(
                        format!("{field}.sigma"),
                        format!("must be a finite number >= 0, got {sigma}"),
                    ));
                }
                Ok(())
            }
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn secs(value: f64) -> Duration {
    if value.is_finite() && value > 0.0 {
        Duration::try_from_secs_f64(value).unwrap_or(Duration::MAX)
    } else {
        Duration::ZERO
    }
}

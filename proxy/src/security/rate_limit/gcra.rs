//! The in-process [`RateLimiter`]: governor's GCRA over a [`BoundedStore`].

use super::{BoundedStore, Decision, Key, RateLimiter};
use crate::config::{RateLimitConfig, RatePeriod};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::{NoOpMiddleware, StateInformationMiddleware};
use governor::{Quota, RateLimiter as Governor};
use std::hash::{BuildHasher, Hash, Hasher, RandomState};
use std::time::Duration;

/// One route's limiter: a GCRA bucket per key, keys hashed to `u64` with a per-limiter seed.
pub struct GcraLimiter<C: Clock = DefaultClock> {
    governor: Governor<u64, BoundedStore<C>, C, StateInformationMiddleware>,
    store: BoundedStore<C>,
    hasher: RandomState,
    burst: u32,
    interval: Duration,
}

impl<C: Clock> std::fmt::Debug for GcraLimiter<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GcraLimiter")
            .field("burst", &self.burst)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

impl GcraLimiter {
    /// A limiter for `config` on the monotonic clock.
    pub fn new(config: &RateLimitConfig) -> Self {
        Self::with_clock(config, DefaultClock::default())
    }
}

impl<C: Clock + Clone> GcraLimiter<C> {
    /// A limiter for `config` on `clock` (a fake clock in tests).
    pub fn with_clock(config: &RateLimitConfig, clock: C) -> Self {
        let quota = match config.period {
            RatePeriod::Second => Quota::per_second(config.rate),
            RatePeriod::Minute => Quota::per_minute(config.rate),
        }
        .allow_burst(config.burst);
        let store = BoundedStore::new(config.max_keys, clock.clone());
        Self {
            governor: Governor::<u64, _, C, NoOpMiddleware<C::Instant>>::new(
                quota,
                store.clone(),
                clock,
            )
            .with_middleware::<StateInformationMiddleware>(),
            store,
            hasher: RandomState::new(),
            burst: config.burst.get(),
            interval: quota.replenish_interval(),
        }
    }

    /// The key store (memory checks).
    pub fn store(&self) -> &BoundedStore<C> {
        &self.store
    }

    fn hash(&self, key: Key<'_>) -> u64 {
        let mut h = self.hasher.build_hasher();
        match key {
            Key::Ip(ip) => {
                h.write_u8(0);
                ip.to_canonical().hash(&mut h);
            }
            Key::Header(value) => {
                h.write_u8(1);
                h.write(value);
            }
            Key::HeaderAbsent => h.write_u8(2),
            Key::Route => h.write_u8(3),
        }
        h.finish()
    }
}

impl<C> RateLimiter for GcraLimiter<C>
where
    C: Clock + Clone + Send + Sync,
    C::Instant: Send + Sync,
{
    fn check(&self, key: Key<'_>) -> Decision {
        let key = self.hash(key);
        let behind = |cells: u32| self.interval.saturating_mul(cells);
        match self.governor.check_key(&key) {
            Ok(state) => {
                let remaining = state.remaining_burst_capacity().min(self.burst);
                Decision {
                    allowed: true,
                    limit: self.burst,
                    remaining,
                    reset: behind(self.burst - remaining),
                    retry_after: Duration::ZERO,
                }
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.governor.clock().now());
                Decision {
                    allowed: false,
                    limit: self.burst,
                    remaining: 0,
                    reset: wait + behind(self.burst - 1),
                    retry_after: wait,
                }
            }
        }
    }

    fn stored_keys(&self) -> usize {
        self.store.len()
    }
}

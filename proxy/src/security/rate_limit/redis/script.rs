//! The GCRA as one Lua script, so that checking and updating a bucket is one atomic step for
//! every proxy sharing the server. The clock is Redis's own (`TIME`): instances whose clocks
//! disagree still share one timeline.
//!
//! A bucket is one string key holding its theoretical arrival time (TAT) in microseconds; it
//! expires once the bucket is full again, so idle keys cost Redis nothing.

use super::StoreError;
use super::resp::Value;
use crate::security::rate_limit::Decision;
use std::time::Duration;

/// `KEYS[1]` the bucket; `ARGV[1]` the emission interval in microseconds, `ARGV[2]` the
/// burst. Returns `{allowed, remaining, retry_after_us, reset_us}`.
pub(super) const GCRA: &str = r#"
if redis.replicate_commands then redis.replicate_commands() end
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local ahead = tat + interval - now
local tolerance = interval * burst
if ahead > tolerance then
  return {0, 0, ahead - tolerance, tat - now}
end
redis.call('SET', KEYS[1], string.format('%.0f', tat + interval), 'PX', math.ceil(ahead / 1000) + 1)
return {1, math.floor((tolerance - ahead) / interval), 0, ahead}
"#;

/// The script's reply as a [`Decision`] of a bucket of `burst`.
pub(super) fn decision(reply: Value, burst: u32) -> Result<Decision, StoreError> {
    let bad = || StoreError::Reply("unexpected reply to the rate-limit script".into());
    let Value::Array(Some(items)) = reply else {
        return Err(match reply {
            Value::Error(e) => StoreError::Reply(e),
            _ => bad(),
        });
    };
    let n: Vec<i64> = items
        .iter()
        .map(|v| match v {
            Value::Int(n) => Ok(*n),
            _ => Err(bad()),
        })
        .collect::<Result<_, _>>()?;
    let [allowed, remaining, retry_us, reset_us] = n[..] else {
        return Err(bad());
    };
    let us = |n: i64| Duration::from_micros(n.max(0) as u64);
    Ok(Decision {
        allowed: allowed == 1,
        limit: burst,
        remaining: (remaining.max(0) as u64).min(u64::from(burst)) as u32,
        reset: us(reset_us),
        retry_after: us(retry_us),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reply_becomes_a_decision() {
        let arr = |v: &[i64]| Value::Array(Some(v.iter().map(|n| Value::Int(*n)).collect()));
        let d = decision(arr(&[0, 0, 100_000, 500_000]), 5).unwrap();
        assert!(!d.allowed);
        assert_eq!(d.retry_after, Duration::from_millis(100));
        assert_eq!(d.reset, Duration::from_millis(500));
        let d = decision(arr(&[1, 4, 0, 100_000]), 5).unwrap();
        assert!(d.allowed);
        assert_eq!((d.limit, d.remaining), (5, 4));
        assert!(decision(arr(&[1, 4]), 5).is_err());
        assert!(decision(Value::Error("ERR boom".into()), 5).is_err());
    }
}

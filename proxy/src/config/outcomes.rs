//! Outcome lists such as `[connect_error, timeout, reset, 500, 502-504, 5xx]`: which request
//! outcomes a breaker records as failures (`record`) or a retry policy retries (`on`).

use super::raw::FailureKind;
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use std::fmt;

/// One item of an outcome list as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeItem {
    /// The TCP connection to the backend could not be made.
    ConnectError,
    /// No response head in time.
    Timeout,
    /// The connection broke before the response head.
    Reset,
    /// Response statuses `lo..=hi`, written `503`, `502-504` or `5xx`.
    Status(u16, u16),
}

impl OutcomeItem {
    /// Parses `connect_error`, `timeout`, `reset`, `503`, `502-504` or `5xx`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let code = |s: &str| s.parse::<u16>().ok().filter(|c| (100..=599).contains(c));
        let item = match t {
            "connect_error" => Some(OutcomeItem::ConnectError),
            "timeout" => Some(OutcomeItem::Timeout),
            "reset" => Some(OutcomeItem::Reset),
            _ => match (t.split_once('-'), t.strip_suffix("xx")) {
                (Some((lo, hi)), _) => match (code(lo), code(hi)) {
                    (Some(lo), Some(hi)) if lo <= hi => Some(OutcomeItem::Status(lo, hi)),
                    _ => None,
                },
                (None, Some(class)) => match class.parse::<u16>() {
                    Ok(c @ 1..=5) => Some(OutcomeItem::Status(c * 100, c * 100 + 99)),
                    _ => None,
                },
                (None, None) => code(t).map(|c| OutcomeItem::Status(c, c)),
            },
        };
        item.ok_or_else(|| {
            format!(
                "{text:?} is not an outcome; write connect_error, timeout, reset, a status (503), \
                 a range (502-504) or a class (5xx), statuses 100-599"
            )
        })
    }
}

impl fmt::Display for OutcomeItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            OutcomeItem::ConnectError => f.write_str("connect_error"),
            OutcomeItem::Timeout => f.write_str("timeout"),
            OutcomeItem::Reset => f.write_str("reset"),
            OutcomeItem::Status(lo, hi) if lo == hi => write!(f, "{lo}"),
            OutcomeItem::Status(lo, hi) => write!(f, "{lo}-{hi}"),
        }
    }
}

impl Serialize for OutcomeItem {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            OutcomeItem::Status(lo, hi) if lo == hi => s.serialize_u16(lo),
            _ => s.collect_str(self),
        }
    }
}

impl<'de> Deserialize<'de> for OutcomeItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = OutcomeItem;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "connect_error, timeout, reset, a status (503), a range (502-504) or 5xx",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<OutcomeItem, E> {
                OutcomeItem::parse(v).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<OutcomeItem, E> {
                OutcomeItem::parse(&v.to_string()).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<OutcomeItem, E> {
                OutcomeItem::parse(&v.to_string()).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// A validated outcome list: three kinds plus a status bitmap, checked in a few instructions.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct OutcomeSet {
    connect_error: bool,
    timeout: bool,
    reset: bool,
    /// Bit `status - 100` set for each listed status (100..=599).
    statuses: [u64; 8],
}

impl OutcomeSet {
    /// The set of everything the items name.
    pub fn new(items: &[OutcomeItem]) -> Self {
        let mut set = OutcomeSet::default();
        for item in items {
            match *item {
                OutcomeItem::ConnectError => set.connect_error = true,
                OutcomeItem::Timeout => set.timeout = true,
                OutcomeItem::Reset => set.reset = true,
                OutcomeItem::Status(lo, hi) => {
                    for s in lo.max(100)..=hi.min(599) {
                        let bit = usize::from(s - 100);
                        set.statuses[bit / 64] |= 1 << (bit % 64);
                    }
                }
            }
        }
        set
    }

    /// True when nothing is listed.
    pub fn is_empty(&self) -> bool {
        !self.connect_error && !self.timeout && !self.reset && self.statuses == [0; 8]
    }

    /// True when this response status is listed.
    pub fn contains_status(&self, status: u16) -> bool {
        if !(100..=599).contains(&status) {
            return false;
        }
        let bit = usize::from(status - 100);
        self.statuses[bit / 64] & (1 << (bit % 64)) != 0
    }

    /// True when this failure without a response head is listed; `Status5xx` is answered as
    /// "any 5xx listed" (callers with the status should ask [`Self::contains_status`]).
    pub fn contains_kind(&self, kind: FailureKind) -> bool {
        match kind {
            FailureKind::ConnectError => self.connect_error,
            FailureKind::Timeout => self.timeout,
            FailureKind::Reset => self.reset,
            FailureKind::Status5xx => (500..=599).any(|s| self.contains_status(s)),
        }
    }
}

impl fmt::Debug for OutcomeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for (on, name) in [
            (self.connect_error, "connect_error"),
            (self.timeout, "timeout"),
            (self.reset, "reset"),
        ] {
            if on {
                list.entry(&format_args!("{name}"));
            }
        }
        let mut s = 100u16;
        while s <= 599 {
            if self.contains_status(s) {
                let lo = s;
                while s < 599 && self.contains_status(s + 1) {
                    s += 1;
                }
                list.entry(&format_args!("{}", OutcomeItem::Status(lo, s)));
            }
            s += 1;
        }
        list.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_parse_kinds_codes_ranges_and_classes() {
        assert_eq!(OutcomeItem::parse("reset"), Ok(OutcomeItem::Reset));
        assert_eq!(OutcomeItem::parse("503"), Ok(OutcomeItem::Status(503, 503)));
        assert_eq!(
            OutcomeItem::parse("502-504"),
            Ok(OutcomeItem::Status(502, 504))
        );
        assert_eq!(OutcomeItem::parse("5xx"), Ok(OutcomeItem::Status(500, 599)));
        for bad in ["", "resets", "600", "99", "504-502", "6xx", "5xx-", "50x"] {
            assert!(OutcomeItem::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn sets_answer_statuses_and_kinds() {
        let set = OutcomeSet::new(&[
            OutcomeItem::Timeout,
            OutcomeItem::Status(500, 500),
            OutcomeItem::Status(502, 504),
        ]);
        assert!(set.contains_status(503) && set.contains_status(500));
        assert!(!set.contains_status(501) && !set.contains_status(505) && !set.contains_status(0));
        assert!(set.contains_kind(FailureKind::Timeout));
        assert!(!set.contains_kind(FailureKind::Reset));
        assert_eq!(format!("{set:?}"), "[timeout, 500, 502-504]");
        assert!(OutcomeSet::new(&[]).is_empty());
    }
}

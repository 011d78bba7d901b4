//! How long ship waits on a registry: a stall limit on every wait for progress (connecting,
//! sending, receiving) and an optional overall deadline for all the registry work of one
//! command. Pure apart from reading the clock.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The stall limit when none is given: long enough for a registry that verifies a large blob
/// before answering, short enough that a dead connection does not hold a CI job for long.
pub const DEFAULT_STALL: Duration = Duration::from_secs(60);

/// Bounds on every wait for a registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest wait with no progress: to connect, for the registry to take more of a request
    /// body, or for more of its answer (`--stall-timeout`).
    pub stall: Duration,
    /// Longest all registry requests, retries and waits between them may take, counted from
    /// the first request (`--timeout`); `None`: bounded only by stalls and retries.
    pub overall: Option<Duration>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            stall: DEFAULT_STALL,
            overall: None,
        }
    }
}

/// The overall deadline of one client, started by its first request.
#[derive(Debug, Default)]
pub(crate) struct Deadline {
    overall: Option<Duration>,
    started: OnceLock<Instant>,
}

impl Deadline {
    pub fn new(overall: Option<Duration>) -> Self {
        Self {
            overall,
            started: OnceLock::new(),
        }
    }

    /// Starts the clock if it is not running; the time left, `None` when unbounded.
    pub fn remaining(&self) -> Option<Duration> {
        let overall = self.overall?;
        let started = *self.started.get_or_init(Instant::now);
        Some(overall.saturating_sub(started.elapsed()))
    }

    /// Whether the deadline has passed.
    pub fn passed(&self) -> bool {
        self.remaining().is_some_and(|r| r.is_zero())
    }

    /// The message for a deadline that ran out.
    pub fn message(&self) -> String {
        format!(
            "stopped: the overall deadline of {} (--timeout / SHIP_TIMEOUT) ran out",
            show(self.overall.unwrap_or_default())
        )
    }
}

/// `90`, `90s`, `15m`, `2h` (whole numbers; a bare number is seconds) to a duration above 0.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (number, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => 0,
    };
    let value: u64 = number.parse().unwrap_or(0);
    match value.checked_mul(scale) {
        Some(secs) if secs > 0 => Ok(Duration::from_secs(secs)),
        _ => Err(format!(
            "{text:?} is not a duration: give whole seconds above 0, or a number with s, m or h (90, 90s, 15m, 2h)"
        )),
    }
}

/// A duration as people write it: `45s`, `15m`, `2h`, `90s`.
pub fn show(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 3600 && secs.is_multiple_of(3600) {
        format!("{}h", secs / 3600)
    } else if secs >= 60 && secs.is_multiple_of(60) {
        format!("{}m", secs / 60)
    } else if secs > 0 || d.is_zero() {
        format!("{secs}s")
    } else {
        format!("{}ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_in_seconds_minutes_hours() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration(" 2h "), Ok(Duration::from_secs(7200)));
        for bad in [
            "",
            "0",
            "0s",
            "-5",
            "1.5m",
            "5d",
            "m",
            "99999999999999999999h",
        ] {
            let e = parse_duration(bad).unwrap_err();
            assert!(e.contains("not a duration"), "{bad}: {e}");
        }
        assert_eq!(show(Duration::from_secs(7200)), "2h");
        assert_eq!(show(Duration::from_secs(900)), "15m");
        assert_eq!(show(Duration::from_secs(90)), "90s");
        assert_eq!(show(Duration::from_millis(250)), "250ms");
    }

    #[test]
    fn an_unbounded_deadline_never_passes() {
        let d = Deadline::new(None);
        assert_eq!(d.remaining(), None);
        assert!(!d.passed());
        let d = Deadline::new(Some(Duration::from_secs(3600)));
        assert!(d.remaining().is_some_and(|r| r > Duration::ZERO));
        assert!(d.message().contains("1h"));
    }
}

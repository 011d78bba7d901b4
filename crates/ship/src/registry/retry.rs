//! Which failures are worth another try, and how long to wait. Pure, so every rule is
//! unit-tested; the client applies it around each registry operation.

use std::time::Duration;

/// Bounded exponential backoff. The defaults give up after about 15 s of waiting, enough to
/// ride out a registry restart or a rate limit without hanging a CI job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Wait before the second attempt; doubled for each one after.
    pub base_delay: Duration,
    /// No single wait is longer than this, whatever backoff or Retry-After say.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

/// What went wrong with one attempt, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The registry answered with this status; `retry_after` is its Retry-After, if any.
    Status {
        code: u16,
        retry_after: Option<Duration>,
    },
    /// The connection failed or broke (refused, reset, closed early, timed out).
    Connection,
    /// Anything else (TLS verification, DNS, a malformed answer): retrying will not help.
    Permanent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    RetryAfter(Duration),
    GiveUp,
}

/// Statuses that say "try again later": timeouts, rate limits and server-side failures
/// (501 Not Implemented and 505 are answers, not accidents).
pub fn is_transient_status(code: u16) -> bool {
    matches!(code, 408 | 429 | 500 | 502 | 503 | 504)
}

impl RetryPolicy {
    /// Whether to try again after `attempt` (1 for the first) failed with `failure`.
    pub fn decide(&self, attempt: u32, failure: Failure) -> Decision {
        if attempt >= self.max_attempts {
            return Decision::GiveUp;
        }
        let hint = match failure {
            Failure::Status { code, retry_after } if is_transient_status(code) => retry_after,
            Failure::Connection => None,
            Failure::Status { .. } | Failure::Permanent => return Decision::GiveUp,
        };
        let backoff = self
            .base_delay
            .saturating_mul(1u32 << (attempt - 1).min(16));
        Decision::RetryAfter(hint.unwrap_or(backoff).min(self.max_delay))
    }
}

/// Parse a Retry-After value given in seconds. (The HTTP-date form is rare from registries;
/// it falls back to the backoff.)
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
        }
    }

    fn status(code: u16) -> Failure {
        Failure::Status {
            code,
            retry_after: None,
        }
    }

    #[test]
    fn transient_failures_back_off_exponentially_then_give_up() {
        let p = policy();
        let waits: Vec<Decision> = (1..=4).map(|a| p.decide(a, Failure::Connection)).collect();
        assert_eq!(
            waits,
            vec![
                Decision::RetryAfter(Duration::from_millis(100)),
                Decision::RetryAfter(Duration::from_millis(200)),
                Decision::RetryAfter(Duration::from_millis(400)),
                Decision::GiveUp,
            ]
        );
        for code in [408, 429, 500, 502, 503, 504] {
            assert_eq!(
                p.decide(1, status(code)),
                Decision::RetryAfter(Duration::from_millis(100)),
                "{code}"
            );
        }
    }

    #[test]
    fn permanent_failures_stop_at_once() {
        let p = policy();
        for code in [400, 401, 403, 404, 405, 409, 413, 501, 505] {
            assert_eq!(p.decide(1, status(code)), Decision::GiveUp, "{code}");
        }
        assert_eq!(p.decide(1, Failure::Permanent), Decision::GiveUp);
    }

    #[test]
    fn retry_after_is_honoured_but_capped() {
        let p = policy();
        let with = |s| Failure::Status {
            code: 429,
            retry_after: Some(Duration::from_secs(s)),
        };
        assert_eq!(
            p.decide(1, with(1)),
            Decision::RetryAfter(Duration::from_secs(1))
        );
        assert_eq!(
            p.decide(1, with(3600)),
            Decision::RetryAfter(Duration::from_secs(2))
        );
        // Retry-After on a permanent status does not make it transient.
        let not_transient = Failure::Status {
            code: 403,
            retry_after: Some(Duration::from_secs(1)),
        };
        assert_eq!(p.decide(1, not_transient), Decision::GiveUp);
        assert_eq!(p.decide(4, with(1)), Decision::GiveUp);
    }

    #[test]
    fn parses_retry_after_seconds() {
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }

    #[test]
    fn huge_attempt_numbers_do_not_overflow() {
        let p = RetryPolicy {
            max_attempts: u32::MAX,
            ..policy()
        };
        assert_eq!(
            p.decide(1000, Failure::Connection),
            Decision::RetryAfter(Duration::from_secs(2))
        );
    }
}

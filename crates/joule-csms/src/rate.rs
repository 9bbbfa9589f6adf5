//! Per-connection token bucket for incoming data frames.
//!
//! Rule (documented in the crate docs): each text or binary frame takes one
//! token; the bucket holds `burst` tokens and refills at `rate` per second.
//! A frame that finds the bucket empty waits for its token before it is
//! handled — the connection reads nothing meanwhile, so TCP pushes back on
//! the charger. A charger that keeps sending while throttled — more than
//! `burst` frames in a row that each had to wait — is flooding: those CALLs
//! (still paced at `rate`) are answered with CALLERROR `GenericError` "rate
//! limit exceeded" and not processed, until a frame arrives that finds a
//! token waiting (the charger paused).

use std::time::{Duration, Instant};

#[derive(Debug)]
pub(crate) struct TokenBucket {
    tokens: f64,
    capacity: f64,
    per_s: f64,
    updated: Instant,
    /// Consecutive frames that found the bucket empty.
    throttled_streak: u32,
    burst: u32,
}

/// What to do with one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Handle it now.
    Now,
    /// Wait this long, then handle it.
    After(Duration),
    /// Wait this long, then refuse it (flooding).
    RefuseAfter(Duration),
}

impl TokenBucket {
    pub(crate) fn new(rate_per_s: u32, burst: u32, now: Instant) -> Self {
        let capacity = f64::from(burst.max(1));
        Self {
            tokens: capacity,
            capacity,
            per_s: f64::from(rate_per_s.max(1)),
            updated: now,
            throttled_streak: 0,
            burst: burst.max(1),
        }
    }

    /// Takes the token of one frame arriving (being read) at `now`.
    pub(crate) fn admit(&mut self, now: Instant) -> Admission {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_s).min(self.capacity);
        self.updated = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            self.throttled_streak = 0;
            return Admission::Now;
        }
        // Borrow the token; it is paid back by waiting.
        let wait = Duration::from_secs_f64((1.0 - self.tokens) / self.per_s);
        self.tokens -= 1.0;
        self.throttled_streak = self.throttled_streak.saturating_add(1);
        if self.throttled_streak > self.burst {
            Admission::RefuseAfter(wait)
        } else {
            Admission::After(wait)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_pacing_then_refusal_then_recovery() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10, 3, t0);
        for _ in 0..3 {
            assert_eq!(b.admit(t0), Admission::Now);
        }
        // Empty: each frame waits 100 ms (read at pace).
        let mut t = t0;
        for _ in 0..3 {
            match b.admit(t) {
                Admission::After(w) => t += w,
                other => panic!("{other:?}"),
            }
        }
        assert!(matches!(b.admit(t), Admission::RefuseAfter(_)));
        // A pause refills the bucket: served again.
        assert_eq!(b.admit(t + Duration::from_secs(1)), Admission::Now);
    }
}

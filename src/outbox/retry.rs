//! When a temporarily failed recipient is tried again: about 5 minutes, doubling each attempt up
//! to 2 hours, with jitter so a queue deferred at once doesn't come back at once.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

pub const FIRST: Duration = Duration::from_secs(5 * 60);
pub const LONGEST: Duration = Duration::from_secs(2 * 60 * 60);

/// The wait after the `attempts`-th failed attempt (1 = the first), before jitter.
pub fn backoff(attempts: u32) -> Duration {
    let doublings = attempts.saturating_sub(1).min(16);
    FIRST.saturating_mul(1 << doublings).min(LONGEST)
}

/// [`backoff`] with ±10 % jitter.
pub fn next_wait(attempts: u32) -> Duration {
    let base = backoff(attempts);
    let r = std::collections::hash_map::RandomState::new().build_hasher().finish() % 2001;
    // r in 0..=2000 → factor 0.9..=1.1
    base.mul_f64(0.9 + r as f64 / 10_000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_five_minutes_up_to_two_hours() {
        let mins: Vec<u64> = (1..=7).map(|a| backoff(a).as_secs() / 60).collect();
        assert_eq!(mins, [5, 10, 20, 40, 80, 120, 120]);
        assert_eq!(backoff(1000), LONGEST);
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        for a in 1..10 {
            let w = next_wait(a).as_secs_f64();
            let b = backoff(a).as_secs_f64();
            assert!(w >= b * 0.9 - 1e-6 && w <= b * 1.1 + 1e-6, "{w} vs {b}");
        }
    }
}

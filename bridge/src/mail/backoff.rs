//! Retry timing for temporary delivery failures: exponential, capped, with jitter so that a
//! queue that failed together does not retry together.

use std::time::Duration;

/// The wait before attempt `attempt + 1` after `attempt` failures (`attempt` ≥ 1). `jitter`
/// in `[0, 1)` scales the delay between half and the full exponential value.
pub fn delay(attempt: u32, base: Duration, max: Duration, jitter: f64) -> Duration {
    let exp = 2u32.saturating_pow(attempt.saturating_sub(1).min(30));
    let full = base.saturating_mul(exp).min(max);
    full.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
}

/// A jitter value from the OS random generator.
pub fn random_jitter() -> f64 {
    let [a, b] = plugin::secret::random_bytes::<2>();
    f64::from(u16::from_le_bytes([a, b])) / 65536.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_caps_and_jitters() {
        let (b, m) = (Duration::from_secs(30), Duration::from_secs(3600));
        assert_eq!(delay(1, b, m, 1.0), Duration::from_secs(30));
        assert_eq!(delay(2, b, m, 1.0), Duration::from_secs(60));
        assert_eq!(delay(5, b, m, 1.0), Duration::from_secs(480));
        assert_eq!(delay(20, b, m, 1.0), m);
        assert_eq!(delay(3, b, m, 0.0), Duration::from_secs(60));
        assert_eq!(delay(u32::MAX, b, m, 0.5), m.mul_f64(0.75));
        let j = random_jitter();
        assert!((0.0..1.0).contains(&j));
    }
}

//! Prometheus counters. Hand-rolled on atomics: the handful of series tapbridge exports does not
//! justify a metrics framework, and rendering the text format is a few lines.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Metrics {
    pub taps_issued: AtomicU64,
    pub taps_deleted: AtomicU64,
    pub tap_redemptions_accepted: AtomicU64,
    pub tap_redemptions_rejected: AtomicU64,
    pub taps_locked: AtomicU64,
    pub api_auth_failures: AtomicU64,
    /// Pass sign-ins refused by the per-address limit before any work.
    pub signin_rate_limited_by_address: AtomicU64,
    /// Pass sign-ins refused by the per-user-name limit before any work.
    pub signin_rate_limited_by_user: AtomicU64,
    pub audit_records_purged: AtomicU64,
    http_responses: [AtomicU64; 5],
    http_latency_buckets: [AtomicU64; LATENCY_BUCKETS_MS.len()],
    http_latency_sum_us: AtomicU64,
    http_latency_count: AtomicU64,
}

const LATENCY_BUCKETS_MS: [f64; 8] = [1.0, 2.5, 5.0, 10.0, 25.0, 100.0, 500.0, 2500.0];

/// Values read from the store at scrape time.
#[derive(Debug, Default, Clone, Copy)]
pub struct Gauges {
    pub users: i64,
    pub taps_usable: i64,
    pub taps_stored: i64,
    pub api_tokens: i64,
}

pub fn inc(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

pub fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

impl Metrics {
    pub fn observe_http(&self, status: u16, elapsed: std::time::Duration) {
        let class = usize::from((status / 100).clamp(1, 5)) - 1;
        inc(&self.http_responses[class]);
        let ms = elapsed.as_secs_f64() * 1000.0;
        for (i, bound) in LATENCY_BUCKETS_MS.iter().enumerate() {
            if ms <= *bound {
                inc(&self.http_latency_buckets[i]);
            }
        }
        self.http_latency_sum_us.fetch_add(
            elapsed.as_micros().min(u128::from(u64::MAX)) as u64,
            Ordering::Relaxed,
        );
        inc(&self.http_latency_count);
    }

    /// The Prometheus text exposition format.
    pub fn render(&self, gauges: Gauges) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        };
        counter(
            "tapbridge_taps_issued_total",
            "Temporary Access Passes issued.",
            get(&self.taps_issued),
        );
        counter(
            "tapbridge_taps_deleted_total",
            "Temporary Access Passes deleted or replaced.",
            get(&self.taps_deleted),
        );
        counter(
            "tapbridge_tap_redemptions_accepted_total",
            "Temporary Access Pass sign-ins that succeeded.",
            get(&self.tap_redemptions_accepted),
        );
        counter(
            "tapbridge_tap_redemptions_rejected_total",
            "Temporary Access Pass sign-ins that failed.",
            get(&self.tap_redemptions_rejected),
        );
        counter(
            "tapbridge_taps_locked_total",
            "Passes locked after repeated failures.",
            get(&self.taps_locked),
        );
        counter(
            "tapbridge_api_auth_failures_total",
            "Admin API requests with a missing or invalid token.",
            get(&self.api_auth_failures),
        );
        counter(
            "tapbridge_audit_records_purged_total",
            "Audit records deleted past their retention period.",
            get(&self.audit_records_purged),
        );
        let _ = writeln!(
            out,
            "# HELP tapbridge_signin_rate_limited_total Pass sign-ins refused by a rate limit, by limit.\n\
             # TYPE tapbridge_signin_rate_limited_total counter"
        );
        for (limit, c) in [
            ("address", &self.signin_rate_limited_by_address),
            ("user", &self.signin_rate_limited_by_user),
        ] {
            let _ = writeln!(
                out,
                "tapbridge_signin_rate_limited_total{{limit=\"{limit}\"}} {}",
                get(c)
            );
        }
        let _ = writeln!(
            out,
            "# HELP tapbridge_http_responses_total HTTP responses by status class."
        );
        let _ = writeln!(out, "# TYPE tapbridge_http_responses_total counter");
        for (i, c) in self.http_responses.iter().enumerate() {
            let _ = writeln!(
                out,
                "tapbridge_http_responses_total{{class=\"{}xx\"}} {}",
                i + 1,
                get(c)
            );
        }
        let _ = writeln!(
            out,
            "# HELP tapbridge_http_request_duration_seconds HTTP request latency."
        );
        let _ = writeln!(
            out,
            "# TYPE tapbridge_http_request_duration_seconds histogram"
        );
        for (bound, c) in LATENCY_BUCKETS_MS.iter().zip(&self.http_latency_buckets) {
            let _ = writeln!(
                out,
                "tapbridge_http_request_duration_seconds_bucket{{le=\"{}\"}} {}",
                bound / 1000.0,
                get(c)
            );
        }
        let count = get(&self.http_latency_count);
        let _ = writeln!(
            out,
            "tapbridge_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "tapbridge_http_request_duration_seconds_sum {}",
            get(&self.http_latency_sum_us) as f64 / 1e6
        );
        let _ = writeln!(out, "tapbridge_http_request_duration_seconds_count {count}");
        let mut gauge = |name: &str, help: &str, value: i64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        };
        gauge(
            "tapbridge_users",
            "Users in the directory store.",
            gauges.users,
        );
        gauge(
            "tapbridge_taps_usable",
            "Passes neither expired, used up nor locked.",
            gauges.taps_usable,
        );
        gauge(
            "tapbridge_taps_stored",
            "Passes stored, usable or not.",
            gauges.taps_stored,
        );
        gauge(
            "tapbridge_api_tokens",
            "API tokens not revoked.",
            gauges.api_tokens,
        );
        out
    }
}

/// The store's health: whether it can write, and its faults by cause since start.
pub fn render_store(health: &crate::store::Health) -> String {
    let mut out = String::new();
    let fault = health.fault();
    let _ = writeln!(
        out,
        "# HELP tapbridge_store_writable 1 when the last write (or probe) succeeded, 0 while the store is in a fault.\n\
         # TYPE tapbridge_store_writable gauge\ntapbridge_store_writable {}",
        u8::from(fault.is_none())
    );
    let _ = writeln!(
        out,
        "# HELP tapbridge_store_faults_total Statements that failed because the store could not work, by cause.\n\
         # TYPE tapbridge_store_faults_total counter"
    );
    for (cause, n) in health.failures() {
        let _ = writeln!(
            out,
            "tapbridge_store_faults_total{{cause=\"{}\"}} {n}",
            cause.label()
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histogram_and_gauges() {
        let m = Metrics::default();
        m.observe_http(200, std::time::Duration::from_millis(3));
        m.observe_http(404, std::time::Duration::from_millis(30));
        inc(&m.taps_issued);
        add(&m.signin_rate_limited_by_user, 3);
        let text = m.render(Gauges {
            users: 7,
            ..Default::default()
        });
        assert!(text.contains("tapbridge_taps_issued_total 1"));
        assert!(text.contains("tapbridge_http_responses_total{class=\"2xx\"} 1"));
        assert!(text.contains("tapbridge_http_responses_total{class=\"4xx\"} 1"));
        assert!(text.contains("tapbridge_http_request_duration_seconds_bucket{le=\"0.005\"} 1"));
        assert!(text.contains("tapbridge_http_request_duration_seconds_bucket{le=\"+Inf\"} 2"));
        assert!(text.contains("tapbridge_users 7"));
        assert!(text.contains("tapbridge_signin_rate_limited_total{limit=\"user\"} 3"));
        assert!(text.contains("tapbridge_signin_rate_limited_total{limit=\"address\"} 0"));
    }
}

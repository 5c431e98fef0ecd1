//! Per-client-IP limit on failed sign-ins, in memory (each instance counts its
//! own clients; the per-account lockout is the shared, store-backed defence).

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

/// A fixed one-minute window per IP.
#[derive(Debug)]
pub struct IpFailureLimit {
    per_minute: u32,
    windows: Mutex<HashMap<String, (DateTime<Utc>, u32)>>,
}

/// Remembered IPs before old windows are swept, bounding memory under a spray.
const SWEEP_AT: usize = 100_000;

impl IpFailureLimit {
    /// Allows `per_minute` failed sign-ins per IP per minute (0 disables the limit).
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Seconds to wait when `ip` has used up its failures, else `None`.
    pub fn check(&self, ip: &str, now: DateTime<Utc>) -> Option<u64> {
        if self.per_minute == 0 {
            return None;
        }
        let windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let (start, count) = windows.get(ip)?;
        let end = *start + Duration::minutes(1);
        (*count >= self.per_minute && now < end).then(|| (end - now).num_seconds().max(1) as u64)
    }

    /// Counts one failure of `ip`.
    pub fn record_failure(&self, ip: &str, now: DateTime<Utc>) {
        if self.per_minute == 0 {
            return;
        }
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() >= SWEEP_AT {
            windows.retain(|_, (start, _)| now < *start + Duration::minutes(1));
        }
        let window = windows.entry(ip.to_owned()).or_insert((now, 0));
        if now >= window.0 + Duration::minutes(1) {
            *window = (now, 0);
        }
        window.1 += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_the_limit_until_the_window_ends() {
        let limit = IpFailureLimit::new(3);
        let t0 = DateTime::<Utc>::UNIX_EPOCH + Duration::days(1);
        for _ in 0..3 {
            assert_eq!(limit.check("10.0.0.1", t0), None);
            limit.record_failure("10.0.0.1", t0);
        }
        assert_eq!(limit.check("10.0.0.1", t0), Some(60));
        assert_eq!(limit.check("10.0.0.2", t0), None);
        assert_eq!(limit.check("10.0.0.1", t0 + Duration::seconds(61)), None);
    }
}

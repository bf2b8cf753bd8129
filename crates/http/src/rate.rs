//! A token bucket per client IP, in a bounded map.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;

use tokio::time::Instant;

struct Bucket {
    tokens: f64,
    refilled: Instant,
}

/// Per-IP token buckets; IPv6 addresses share the bucket of their /64, which one client
/// usually owns whole.
pub(crate) struct RateLimiter {
    /// Capacity of each bucket.
    burst: f64,
    /// Tokens added per second.
    per_second: f64,
    /// Most keys held; bounds memory whatever the number of client addresses.
    max_keys: usize,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

impl RateLimiter {
    pub(crate) fn new(burst: u32, per_second: u32, max_keys: usize) -> RateLimiter {
        RateLimiter {
            burst: f64::from(burst),
            per_second: f64::from(per_second),
            max_keys,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `ip`; `false` if there is none (or no room for a new IP).
    pub(crate) fn allow(&self, ip: IpAddr) -> bool {
        let key = bucket_key(ip);
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if !buckets.contains_key(&key) && buckets.len() >= self.max_keys {
            // A full bucket is the same as no bucket: forget those.
            buckets.retain(|_, bucket| self.refill(bucket, now) < self.burst);
            if buckets.len() >= self.max_keys {
                return false;
            }
        }
        let bucket = buckets.entry(key).or_insert(Bucket { tokens: self.burst, refilled: now });
        if self.refill(bucket, now) < 1.0 {
            return false;
        }
        bucket.tokens -= 1.0;
        true
    }

    fn refill(&self, bucket: &mut Bucket, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(bucket.refilled).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.per_second).min(self.burst);
        bucket.refilled = now;
        bucket.tokens
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.buckets.lock().expect("lock").len()
    }
}

fn bucket_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn buckets_refill_and_the_map_stays_bounded() {
        let limiter = RateLimiter::new(2, 1, 2);
        let (a, b, c) = ([10, 0, 0, 1].into(), [10, 0, 0, 2].into(), [10, 0, 0, 3].into());
        assert!(limiter.allow(a) && limiter.allow(a));
        assert!(!limiter.allow(a), "burst spent");
        assert!(limiter.allow(b));
        assert!(!limiter.allow(c), "map full of non-full buckets");
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(limiter.allow(a), "one token refilled");
        assert!(!limiter.allow(a));
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!(limiter.allow(c), "full buckets were forgotten to make room");
        assert!(limiter.tracked() <= 2);
    }

    #[test]
    fn ipv6_clients_share_their_64() {
        let one: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let two: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        assert_eq!(bucket_key(one), bucket_key(two));
        assert_ne!(bucket_key(one), bucket_key("2001:db8:1:3::1".parse().unwrap()));
        assert_eq!(bucket_key("::ffff:10.0.0.1".parse().unwrap()), IpAddr::from([10, 0, 0, 1]));
    }
}

//! Latency statistics: HDR histograms with microsecond resolution
//! (3 significant digits, 1 µs … 5 min), sharded so thousands of client
//! tasks can record without contending on one lock, merged for the report.

use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::Histogram;

/// Highest latency recorded, µs (larger values are clamped).
const MAX_US: u64 = 300_000_000;
const SHARDS: usize = 16;

fn new_histogram() -> Histogram<u64> {
    match Histogram::new_with_bounds(1, MAX_US, 3) {
        Ok(h) => h,
        // Only invalid bounds fail, and these are constants exercised by
        // every test below.
        Err(e) => unreachable!("histogram bounds: {e}"),
    }
}

/// Latencies recorded by many tasks; each task records into the shard of
/// its index.
#[derive(Debug)]
pub struct LatencyRecorder {
    shards: Vec<Mutex<Histogram<u64>>>,
}

impl Default for LatencyRecorder {
    fn default() -> Self {
        LatencyRecorder {
            shards: (0..SHARDS).map(|_| Mutex::new(new_histogram())).collect(),
        }
    }
}

impl LatencyRecorder {
    /// Records one latency from task `task`.
    pub fn record(&self, task: usize, latency: Duration) {
        let us = (latency.as_micros() as u64).clamp(1, MAX_US);
        if let Ok(mut h) = self.shards[task % SHARDS].lock() {
            let _ = h.record(us);
        }
    }

    /// All shards merged.
    pub fn merged(&self) -> Histogram<u64> {
        let mut all = new_histogram();
        for shard in &self.shards {
            if let Ok(h) = shard.lock() {
                let _ = all.add(&*h);
            }
        }
        all
    }

    /// The summary of everything recorded so far.
    pub fn summary(&self) -> LatencySummary {
        LatencySummary::of(&self.merged())
    }
}

/// Percentiles of a latency distribution, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LatencySummary {
    pub count: u64,
    pub mean_us: f64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
}

impl LatencySummary {
    /// Summarises a histogram (all zero when it is empty).
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            count: h.len(),
            mean_us: h.mean(),
            p50_us: h.value_at_quantile(0.50),
            p90_us: h.value_at_quantile(0.90),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            max_us: h.max(),
        }
    }
}

/// A microsecond count as a short human duration: `850µs`, `12.3ms`, `1.20s`.
#[derive(Debug, Clone, Copy)]
pub struct Micros(pub u64);

impl fmt::Display for Micros {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let us = self.0;
        let text = if us < 1_000 {
            format!("{us}µs")
        } else if us < 100_000 {
            format!("{:.1}ms", us as f64 / 1_000.0)
        } else if us < 1_000_000 {
            format!("{:.0}ms", us as f64 / 1_000.0)
        } else {
            format!("{:.2}s", us as f64 / 1_000_000.0)
        };
        // Honour width/alignment flags of the caller.
        f.pad(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micros_render_compactly() {
        assert_eq!(Micros(0).to_string(), "0µs");
        assert_eq!(Micros(850).to_string(), "850µs");
        assert_eq!(Micros(12_345).to_string(), "12.3ms");
        assert_eq!(Micros(250_400).to_string(), "250ms");
        assert_eq!(Micros(1_204_000).to_string(), "1.20s");
        assert_eq!(format!("{:>8}", Micros(850)), "   850µs");
    }

    #[test]
    fn shards_merge_and_percentiles_hold() {
        let rec = LatencyRecorder::default();
        for i in 0..1_000u64 {
            // 1 ms … 1000 ms, recorded from many "tasks".
            rec.record(i as usize, Duration::from_millis(i + 1));
        }
        let s = rec.summary();
        assert_eq!(s.count, 1_000);
        // 3 significant digits: within 0.1 %.
        assert!(
            (s.p50_us as f64 - 500_000.0).abs() / 500_000.0 < 0.002,
            "{s:?}"
        );
        assert!(
            (s.p99_us as f64 - 990_000.0).abs() / 990_000.0 < 0.002,
            "{s:?}"
        );
        assert!(
            (s.max_us as f64 - 1_000_000.0).abs() / 1_000_000.0 < 0.002,
            "{s:?}"
        );
        assert!((s.mean_us - 500_500.0).abs() / 500_500.0 < 0.002, "{s:?}");
    }

    #[test]
    fn microsecond_precision_and_clamping() {
        let rec = LatencyRecorder::default();
        rec.record(0, Duration::from_nanos(10)); // below 1 µs → 1 µs
        rec.record(1, Duration::from_micros(137));
        rec.record(2, Duration::from_secs(3_600)); // clamped to 5 min
        let s = rec.summary();
        assert_eq!(s.count, 3);
        assert_eq!(s.p50_us, 137);
        assert!(s.max_us >= MAX_US && s.max_us < MAX_US + MAX_US / 500);
        assert_eq!(
            LatencySummary::of(&new_histogram()),
            LatencySummary::default()
        );
    }
}

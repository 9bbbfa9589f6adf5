//! Resource usage of the server under test, read from Linux `/proc`:
//! resident memory (`VmRSS`, peak `VmHWM` in `/proc/{pid}/status`) and CPU
//! time (`utime + stime` in `/proc/{pid}/stat`, in clock ticks of 1/100 s —
//! `USER_HZ`, which Linux fixes at 100 on every architecture we run on).

use std::io;

/// Clock ticks per second of `/proc/{pid}/stat` times.
const USER_HZ: f64 = 100.0;

/// One reading of a process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcSample {
    /// Resident set size, KiB.
    pub rss_kib: u64,
    /// Peak resident set size, KiB.
    pub peak_rss_kib: u64,
    /// User + system CPU time so far, seconds.
    pub cpu_seconds: f64,
}

/// Reads `/proc/{pid}/status` and `/proc/{pid}/stat`.
pub fn sample(pid: u32) -> io::Result<ProcSample> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let bad = |what: &str| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("/proc/{pid}: no {what}"),
        )
    };
    Ok(ProcSample {
        rss_kib: status_kib(&status, "VmRSS").ok_or_else(|| bad("VmRSS"))?,
        peak_rss_kib: status_kib(&status, "VmHWM").unwrap_or(0),
        cpu_seconds: stat_cpu_ticks(&stat).ok_or_else(|| bad("utime/stime"))? as f64 / USER_HZ,
    })
}

/// A `Name:   1234 kB` field of `/proc/{pid}/status`.
pub fn status_kib(status: &str, field: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// `utime + stime` (fields 14 and 15) of `/proc/{pid}/stat`. The command
/// name (field 2) may contain spaces and parentheses, so fields are counted
/// after its last `)`.
pub fn stat_cpu_ticks(stat: &str) -> Option<u64> {
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // `after` starts at field 3 (state): utime is field 14 → index 11.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_fields() {
        let status = "Name:\tjoule\nVmPeak:\t  900 kB\nVmHWM:\t   51200 kB\nVmRSS:\t   40960 kB\nThreads:\t8\n";
        assert_eq!(status_kib(status, "VmRSS"), Some(40_960));
        assert_eq!(status_kib(status, "VmHWM"), Some(51_200));
        assert_eq!(status_kib(status, "VmSwap"), None);
    }

    #[test]
    fn parses_stat_with_awkward_command_names() {
        let stat =
            "4242 (my (odd) srv) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 75 0 0 20 0 8 0 100 0 0";
        assert_eq!(stat_cpu_ticks(stat), Some(325));
        assert_eq!(stat_cpu_ticks("1 (x) S 1"), None);
    }

    #[test]
    fn samples_this_process() {
        let s = sample(std::process::id()).unwrap();
        assert!(s.rss_kib > 0);
        assert!(s.peak_rss_kib >= s.rss_kib);
        assert!(s.cpu_seconds >= 0.0);
    }
}

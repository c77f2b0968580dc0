//! What the kernel tells about a process in `/proc`.

use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use crate::BoxError;

/// Resident set size (`VmRSS`) of process `pid`, in KiB.
pub fn rss_kib(pid: u32) -> Result<u64, BoxError> {
    status_kib(pid, "VmRSS")
}

/// Peak resident set size (`VmHWM`, the "high water mark") of process
/// `pid` since it started, in KiB.
pub fn peak_rss_kib(pid: u32) -> Result<u64, BoxError> {
    status_kib(pid, "VmHWM")
}

/// A `<field>:   <n> kB` line of `/proc/<pid>/status`.
fn status_kib(pid: u32, field: &str) -> Result<u64, BoxError> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("no {field} in {path}").into())
}

/// CPU time a process has used, split as the kernel accounts it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CpuTime {
    /// In user space.
    pub user: Duration,
    /// In the kernel: system calls (here mostly socket reads and writes).
    pub system: Duration,
}

impl CpuTime {
    /// The time used since `earlier`.
    pub fn since(self, earlier: Self) -> Self {
        Self {
            user: self.user.saturating_sub(earlier.user),
            system: self.system.saturating_sub(earlier.system),
        }
    }
}

/// CPU time process `pid` has used so far (all threads), from
/// `/proc/<pid>/stat`, in clock ticks of `getconf CLK_TCK` (usually 10 ms).
pub fn cpu_time(pid: u32) -> Result<CpuTime, BoxError> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    // Fields after the command name, which is in parentheses and may hold
    // spaces: state is field 3, utime 14, stime 15.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |index: usize| fields.get(index).and_then(|f| f.parse::<u64>().ok());
    let (Some(user), Some(system)) = (ticks(11), ticks(12)) else {
        return Err(format!("unexpected {path}: {stat}").into());
    };
    let hz = clock_ticks_per_second();
    Ok(CpuTime {
        user: Duration::from_secs_f64(user as f64 / hz),
        system: Duration::from_secs_f64(system as f64 / hz),
    })
}

/// Context switches of process `pid` so far, summed over its threads
/// (`voluntary_ctxt_switches` + `nonvoluntary_ctxt_switches` of each
/// `/proc/<pid>/task/<tid>/status`): how often it woke up. Threads that
/// exited are not counted.
pub fn context_switches(pid: u32) -> Result<u64, BoxError> {
    let mut total = 0;
    for entry in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let Ok(status) = std::fs::read_to_string(entry?.path().join("status")) else {
            continue;
        };
        total += status
            .lines()
            .filter_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.ends_with("ctxt_switches")
                    .then(|| value.trim().parse::<u64>().ok())?
            })
            .sum::<u64>();
    }
    Ok(total)
}

/// CPU time used so far by every process named `command` (the `comm` in
/// `/proc/<pid>/stat`, e.g. `postgres`: the server and all its backends).
/// Processes that exited are not counted.
pub fn cpu_time_of_command(command: &str) -> Result<CpuTime, BoxError> {
    let mut total = CpuTime::default();
    for entry in std::fs::read_dir("/proc")? {
        let Ok(pid) = entry?.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let name = stat
            .split_once('(')
            .and_then(|(_, rest)| rest.rsplit_once(')'))
            .map(|(name, _)| name);
        if name == Some(command)
            && let Ok(time) = cpu_time(pid)
        {
            total.user += time.user;
            total.system += time.system;
        }
    }
    Ok(total)
}

/// The whole machine's CPU time from the first line of `/proc/stat`, in
/// clock ticks: (busy, total), where idle and iowait are not busy.
pub fn machine_cpu_ticks() -> Result<(u64, u64), BoxError> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let ticks: Vec<u64> = stat
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("cpu "))
        .map(|rest| {
            rest.split_whitespace()
                .filter_map(|t| t.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    // user nice system idle iowait irq softirq steal (guest time is already
    // in user).
    let field = |i: usize| ticks.get(i).copied().unwrap_or(0);
    let idle = field(3) + field(4);
    let total: u64 = (0..8).map(field).sum();
    if total == 0 {
        return Err("unexpected /proc/stat".into());
    }
    Ok((total - idle, total))
}

/// `getconf CLK_TCK` (asked once), or the usual 100.
pub fn clock_ticks_per_second() -> f64 {
    static HZ: OnceLock<f64> = OnceLock::new();
    *HZ.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .filter(|&hz: &f64| hz > 0.0)
            .unwrap_or(100.0)
    })
}

/// This process's soft limit on open files (children inherit it).
pub fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// The range of ephemeral ports (`net.ipv4.ip_local_port_range`).
pub fn ephemeral_ports() -> Option<(u64, u64)> {
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    let mut bounds = range.split_whitespace().map(|p| p.parse().ok());
    Some((bounds.next()??, bounds.next()??))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let me = std::process::id();
        let rss = rss_kib(me).unwrap();
        assert!(rss > 0);
        // Read after the RSS: the peak so far is at least that.
        assert!(peak_rss_kib(me).unwrap() >= rss);
        assert!(cpu_time(me).is_ok());
        assert!(context_switches(me).unwrap() > 0);
        assert!(open_files_limit().is_some());
        let (busy, total) = machine_cpu_ticks().unwrap();
        assert!(busy <= total && total > 0);
        // The test binary is not called like this.
        assert_eq!(
            cpu_time_of_command("no-such-command").unwrap(),
            CpuTime::default()
        );
    }
}

//! Who used the CPU during a measured phase: the server, PostgreSQL, and the
//! machine as a whole (the rest is mostly the load generator).

use std::time::{Duration, Instant};

use support_bench::BoxError;
use support_bench::procfs::{self, CpuTime};
use support_bench::server::Server;

/// CPU used during one phase.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CpuUse {
    /// Wall time of the phase.
    pub elapsed: Duration,
    /// The server process (all threads), user + system.
    pub server: Duration,
    /// Every `postgres` process (all databases), user + system.
    pub postgres: Duration,
    /// The machine, all processes, in CPU-seconds.
    pub machine: Duration,
}

impl CpuUse {
    /// `cpu` as a number of cores busy on average.
    pub fn cores(&self, cpu: Duration) -> f64 {
        cpu.as_secs_f64() / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }
}

/// Readings at the start of a phase.
pub struct CpuProbe {
    at: Instant,
    server: CpuTime,
    postgres: CpuTime,
    machine_ticks: u64,
}

impl CpuProbe {
    /// Reads the counters now.
    pub fn start(server: &Server) -> Result<Self, BoxError> {
        Ok(Self {
            at: Instant::now(),
            server: server.cpu_time()?,
            postgres: procfs::cpu_time_of_command("postgres")?,
            machine_ticks: procfs::machine_cpu_ticks()?.0,
        })
    }

    /// What was used since [`CpuProbe::start`].
    pub fn stop(self, server: &Server) -> Result<CpuUse, BoxError> {
        let total = |t: CpuTime| t.user + t.system;
        let server_cpu = server.cpu_time()?.since(self.server);
        let postgres = procfs::cpu_time_of_command("postgres")?.since(self.postgres);
        let ticks = procfs::machine_cpu_ticks()?
            .0
            .saturating_sub(self.machine_ticks);
        Ok(CpuUse {
            elapsed: self.at.elapsed(),
            server: total(server_cpu),
            postgres: total(postgres),
            machine: Duration::from_secs_f64(ticks as f64 / procfs::clock_ticks_per_second()),
        })
    }
}

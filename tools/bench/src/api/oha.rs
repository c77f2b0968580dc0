//! oha, the HTTP load generator (`cargo install oha --locked`), run as a
//! child process; its JSON summary becomes a [`Measured`].

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use support_bench::BoxError;

use crate::Measured;

/// One oha run.
#[derive(Debug, Clone)]
pub struct Load {
    /// The full URL.
    pub url: String,
    /// `GET` or `POST`.
    pub method: &'static str,
    /// `Authorization: Bearer ...`, if any.
    pub token: Option<String>,
    /// A JSON body (sent with `Content-Type: application/json`).
    pub json: Option<String>,
    /// Concurrent keep-alive connections (`-c`).
    pub connections: usize,
    /// How long (`-z`); requests still running at the end are awaited (`-w`).
    pub duration: Duration,
    /// Open loop at this many requests per second (`-q`), with oha's
    /// correction for coordinated omission; `None`: closed loop, as fast as
    /// the connections go.
    pub rate: Option<f64>,
}

/// The oha binary.
#[derive(Debug, Clone)]
pub struct Oha {
    /// Path or name on `PATH`.
    pub program: PathBuf,
}

impl Oha {
    /// `oha --version`, which also checks that it runs.
    pub fn version(&self) -> Result<String, BoxError> {
        let output = Command::new(&self.program)
            .arg("--version")
            .output()
            .map_err(|e| {
                format!(
                    "cannot run {} ({e}): install it with `cargo install oha --locked` \
                     (`just bench` does) or pass --oha",
                    self.program.display()
                )
            })?;
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }

    /// The command line of `load`.
    pub fn args(load: &Load) -> Vec<String> {
        let mut args: Vec<String> = vec![
            "--no-tui".into(),
            "--output-format".into(),
            "json".into(),
            // Wait for requests running at the deadline instead of counting
            // them as errors.
            "-w".into(),
            "-c".into(),
            load.connections.to_string(),
            "-z".into(),
            format!("{}ms", load.duration.as_millis()),
            "-m".into(),
            load.method.into(),
        ];
        if let Some(rate) = load.rate {
            args.extend([
                "-q".into(),
                format!("{:.0}", rate.max(1.0)),
                "--latency-correction".into(),
            ]);
        }
        if let Some(token) = &load.token {
            args.extend(["-H".into(), format!("Authorization: Bearer {token}")]);
        }
        if let Some(json) = &load.json {
            args.extend([
                "-T".into(),
                "application/json".into(),
                "-d".into(),
                json.clone(),
            ]);
        }
        args.push(load.url.clone());
        args
    }

    /// Runs `load` (blocking: call it off the async thread).
    pub fn run(&self, load: &Load) -> Result<Measured, BoxError> {
        let output = Command::new(&self.program)
            .args(Self::args(load))
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.program.display()))?;
        if !output.status.success() {
            return Err(format!(
                "oha failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim_end()
            )
            .into());
        }
        parse(&output.stdout)
    }
}

/// Reads oha's `--output-format json` summary.
fn parse(json: &[u8]) -> Result<Measured, BoxError> {
    let report: Value = serde_json::from_slice(json).map_err(|e| {
        format!(
            "unreadable oha output ({e}): {}",
            String::from_utf8_lossy(json)
        )
    })?;
    let seconds = |value: &Value| value.as_f64().map(Duration::from_secs_f64);
    let elapsed = seconds(&report["summary"]["total"]).ok_or("oha output without summary.total")?;
    let p50 = seconds(&report["latencyPercentiles"]["p50"]).unwrap_or_default();
    let p99 = seconds(&report["latencyPercentiles"]["p99"]).unwrap_or_default();
    let count = |value: &Value| value.as_u64().unwrap_or(0);
    let (mut ok, mut non_2xx) = (0, 0);
    if let Some(statuses) = report["statusCodeDistribution"].as_object() {
        for (status, n) in statuses {
            if status.starts_with('2') {
                ok += count(n);
            } else {
                non_2xx += count(n);
            }
        }
    }
    let errors = report["errorDistribution"]
        .as_object()
        .map_or(0, |errors| errors.values().map(count).sum());
    Ok(Measured {
        ok,
        non_2xx,
        errors,
        elapsed,
        p50,
        p99,
        cpu: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_json_summary() {
        let json = br#"{"summary": {"successRate": 1.0, "total": 2.0, "requestsPerSec": 10.0},
            "latencyPercentiles": {"p50": 0.001, "p99": 0.0125},
            "statusCodeDistribution": {"200": 18, "201": 1, "400": 1},
            "errorDistribution": {"connection closed": 2}}"#;
        let m = parse(json).unwrap();
        assert_eq!((m.ok, m.non_2xx, m.errors), (19, 1, 2));
        assert_eq!(m.elapsed, Duration::from_secs(2));
        assert_eq!(m.p50, Duration::from_millis(1));
        assert_eq!(m.p99, Duration::from_micros(12_500));
        assert!((m.rps() - 9.5).abs() < 1e-9);
        assert!(parse(b"not json").is_err());
    }

    #[test]
    fn builds_the_command_line() {
        let load = Load {
            url: "http://127.0.0.1:1/t".into(),
            method: "POST",
            token: Some("tok".into()),
            json: Some("{}".into()),
            connections: 64,
            duration: Duration::from_secs(10),
            rate: Some(1234.4),
        };
        let args = Oha::args(&load).join(" ");
        assert_eq!(
            args,
            "--no-tui --output-format json -w -c 64 -z 10000ms -m POST -q 1234 \
             --latency-correction -H Authorization: Bearer tok -T application/json -d {} \
             http://127.0.0.1:1/t"
        );
    }
}

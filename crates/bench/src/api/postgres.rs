//! PostgreSQL through its command-line tools: scratch databases
//! (`createdb`/`dropdb`) and `pgbench`, the database's own limit.

use std::process::Command;

use support_bench::BoxError;

/// Where PostgreSQL listens, and as whom we connect (no password: trust or
/// `~/.pgpass`).
#[derive(Debug, Clone)]
pub struct Postgres {
    /// `-h`.
    pub host: String,
    /// `-p`.
    pub port: u16,
    /// `-U`.
    pub user: String,
}

impl Postgres {
    /// The `DATABASE_URL` of database `name`.
    pub fn url(&self, name: &str) -> String {
        format!(
            "postgres://{}@{}:{}/{name}",
            self.user, self.host, self.port
        )
    }

    /// `-h host -p port -U user`, for every tool.
    fn connection_args(&self) -> Vec<String> {
        vec![
            "-h".to_owned(),
            self.host.clone(),
            "-p".to_owned(),
            self.port.to_string(),
            "-U".to_owned(),
            self.user.clone(),
        ]
    }

    /// Creates an empty database `name`, dropping a leftover of an earlier,
    /// interrupted run first. It is dropped again with the returned guard.
    pub fn scratch_database(&self, name: &str) -> Result<ScratchDatabase, BoxError> {
        let guard = ScratchDatabase {
            postgres: self.clone(),
            name: name.to_owned(),
        };
        guard.drop_database()?;
        tool(
            "createdb",
            &[self.connection_args(), vec![name.to_owned()]].concat(),
        )?;
        Ok(guard)
    }

    /// The server's version, for the report.
    pub fn version(&self) -> String {
        self.setting("server_version")
    }

    /// `SHOW <name>`, or "unknown".
    pub fn setting(&self, name: &str) -> String {
        let args = [
            self.connection_args(),
            vec![
                "-d".to_owned(),
                "postgres".to_owned(),
                "-Atc".to_owned(),
                format!("SHOW {name}"),
            ],
        ]
        .concat();
        tool("psql", &args).map_or_else(|_| "unknown".to_owned(), |out| out.trim().to_owned())
    }

    /// Runs `pgbench <args> <database>` and reads its summary.
    pub fn pgbench(
        &self,
        program: &str,
        database: &str,
        args: &[&str],
    ) -> Result<Pgbench, BoxError> {
        let argv = [
            self.connection_args(),
            args.iter().map(|a| (*a).to_owned()).collect(),
            vec![database.to_owned()],
        ]
        .concat();
        let output = tool(program, &argv)?;
        Pgbench::parse(&output)
            .ok_or_else(|| format!("unexpected pgbench output:\n{output}").into())
    }

    /// `pgbench -i`: the pgbench tables at `scale` (100,000 accounts per unit).
    pub fn pgbench_init(&self, program: &str, database: &str, scale: u32) -> Result<(), BoxError> {
        let argv = [
            self.connection_args(),
            vec![
                "-i".to_owned(),
                "-q".to_owned(),
                "-s".to_owned(),
                scale.to_string(),
            ],
            vec![database.to_owned()],
        ]
        .concat();
        tool(program, &argv).map(|_| ())
    }
}

/// A database that exists while this lives.
pub struct ScratchDatabase {
    postgres: Postgres,
    name: String,
}

impl ScratchDatabase {
    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its `DATABASE_URL`.
    pub fn url(&self) -> String {
        self.postgres.url(&self.name)
    }

    /// `dropdb --if-exists --force`: also ends sessions still connected.
    fn drop_database(&self) -> Result<(), BoxError> {
        let args = [
            self.postgres.connection_args(),
            ["--if-exists", "--force", self.name.as_str()]
                .map(str::to_owned)
                .to_vec(),
        ]
        .concat();
        tool("dropdb", &args).map(|_| ())
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        if let Err(error) = self.drop_database() {
            eprintln!("api-bench: could not drop database {}: {error}", self.name);
        }
    }
}

/// The service's columns of a `support_tickets` row, as diesel selects them.
macro_rules! ticket_columns {
    () => {
        "\"support_tickets\".\"id\", \"support_tickets\".\"ticket_number\", \
         \"support_tickets\".\"customer_id\", \"support_tickets\".\"booking_id\", \
         \"support_tickets\".\"order_id\", \"support_tickets\".\"issue_type\", \
         \"support_tickets\".\"description\", \"support_tickets\".\"status\", \
         \"support_tickets\".\"priority\", \"support_tickets\".\"assigned_staff_id\", \
         \"support_tickets\".\"escalation_reason\", \"support_tickets\".\"created_at\", \
         \"support_tickets\".\"updated_at\", \"support_tickets\".\"escalated_at\", \
         \"support_tickets\".\"resolved_at\", \"support_tickets\".\"closed_at\", \
         \"support_tickets\".\"version\""
    };
}

/// A read query of the service, run by `pgbench -f` on the service's own
/// database: what PostgreSQL alone can do of that request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceQuery {
    /// `GET /tickets/{id}`: one ticket of its owner, with its history.
    GetOwn,
    /// `GET /tickets?limit=20`: the newest page of one owner's tickets (21
    /// rows: the 21st says whether there is a next page).
    List,
}

impl ServiceQuery {
    /// Both, in report order.
    pub const ALL: [Self; 2] = [Self::GetOwn, Self::List];

    /// Its name in the tables.
    pub fn label(self) -> &'static str {
        match self {
            Self::GetOwn => "GET-own-ticket",
            Self::List => "list-page",
        }
    }

    /// The `pgbench` script: exactly the SQL the service sends, with the
    /// values it binds as `pgbench` variables (so `-M prepared` binds them
    /// too). `:id` and `:customer` come from `-D`.
    pub fn script(self) -> &'static str {
        match self {
            Self::GetOwn => concat!(
                "SELECT ",
                ticket_columns!(),
                ", \"ticket_events\".\"id\", \"ticket_events\".\"ticket_id\", \
                 \"ticket_events\".\"customer_id\", \"ticket_events\".\"event\", \
                 \"ticket_events\".\"actor_id\", \"ticket_events\".\"actor_role\", \
                 \"ticket_events\".\"ticket_number\", \"ticket_events\".\"status\", \
                 \"ticket_events\".\"occurred_at\" \
                 FROM (\"support_tickets\" LEFT OUTER JOIN \"ticket_events\" \
                 ON (\"ticket_events\".\"ticket_id\" = \"support_tickets\".\"id\")) \
                 WHERE ((\"support_tickets\".\"id\" = :id) \
                 AND (\"support_tickets\".\"customer_id\" = :customer)) \
                 ORDER BY \"ticket_events\".\"id\" ASC;\n"
            ),
            Self::List => concat!(
                "\\set before 9223372036854775807\n",
                "\\set limit 21\n",
                "SELECT ",
                ticket_columns!(),
                " FROM \"support_tickets\" \
                 WHERE ((\"support_tickets\".\"id\" < :before) \
                 AND (\"support_tickets\".\"customer_id\" = :customer)) \
                 ORDER BY \"support_tickets\".\"id\" DESC LIMIT :limit;\n"
            ),
        }
    }
}

/// What `pgbench` reported.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pgbench {
    /// Transactions per second, without the initial connection time.
    pub tps: f64,
    /// Mean latency, in milliseconds.
    pub latency_ms: f64,
    /// Transactions that failed.
    pub failed: u64,
}

impl Pgbench {
    fn parse(output: &str) -> Option<Self> {
        let value = |prefix: &str| {
            output
                .lines()
                .find_map(|line| line.trim().strip_prefix(prefix))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|number| number.parse::<f64>().ok())
        };
        let tps = output
            .lines()
            .filter(|line| line.contains("without initial connection time"))
            .find_map(|line| line.trim().strip_prefix("tps = "))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|number| number.parse().ok())?;
        Some(Self {
            tps,
            latency_ms: value("latency average = ")?,
            // Older pgbench versions do not print it.
            failed: value("number of failed transactions: ").map_or(0, |n| n as u64),
        })
    }
}

/// Runs a PostgreSQL tool; its standard output, or an error with its
/// standard error.
fn tool(program: &str, args: &[String]) -> Result<String, BoxError> {
    let output = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "{program} {}: {}\n{}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim_end()
        )
        .into());
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_pgbench_summary() {
        let output = "\
pgbench (15.20 (Debian 15.20-0+deb12u1))
transaction type: <builtin: select only>
scaling factor: 10
query mode: prepared
number of clients: 16
number of threads: 2
maximum number of tries: 1
duration: 10 s
number of transactions actually processed: 250000
number of failed transactions: 0 (0.000%)
latency average = 0.640 ms
initial connection time = 20.123 ms
tps = 25012.345678 (without initial connection time)
";
        let parsed = Pgbench::parse(output).unwrap();
        assert!((parsed.tps - 25012.345678).abs() < 1e-6);
        assert!((parsed.latency_ms - 0.64).abs() < 1e-9);
        assert_eq!(parsed.failed, 0);
        assert_eq!(Pgbench::parse("no summary"), None);
    }

    #[test]
    fn scripts_send_the_services_sql() {
        let ticket = "\"support_tickets\".\"id\", \"support_tickets\".\"ticket_number\", \"support_tickets\".\"customer_id\", \"support_tickets\".\"booking_id\", \"support_tickets\".\"order_id\", \"support_tickets\".\"issue_type\", \"support_tickets\".\"description\", \"support_tickets\".\"status\", \"support_tickets\".\"priority\", \"support_tickets\".\"assigned_staff_id\", \"support_tickets\".\"escalation_reason\", \"support_tickets\".\"created_at\", \"support_tickets\".\"updated_at\", \"support_tickets\".\"escalated_at\", \"support_tickets\".\"resolved_at\", \"support_tickets\".\"closed_at\", \"support_tickets\".\"version\"";
        let get_own = format!(
            "SELECT {ticket}, \"ticket_events\".\"id\", \"ticket_events\".\"ticket_id\", \"ticket_events\".\"customer_id\", \"ticket_events\".\"event\", \"ticket_events\".\"actor_id\", \"ticket_events\".\"actor_role\", \"ticket_events\".\"ticket_number\", \"ticket_events\".\"status\", \"ticket_events\".\"occurred_at\" FROM (\"support_tickets\" LEFT OUTER JOIN \"ticket_events\" ON (\"ticket_events\".\"ticket_id\" = \"support_tickets\".\"id\")) WHERE ((\"support_tickets\".\"id\" = :id) AND (\"support_tickets\".\"customer_id\" = :customer)) ORDER BY \"ticket_events\".\"id\" ASC;\n"
        );
        assert_eq!(ServiceQuery::GetOwn.script(), get_own);
        let list = format!(
            "\\set before 9223372036854775807\n\\set limit 21\nSELECT {ticket} FROM \"support_tickets\" WHERE ((\"support_tickets\".\"id\" < :before) AND (\"support_tickets\".\"customer_id\" = :customer)) ORDER BY \"support_tickets\".\"id\" DESC LIMIT :limit;\n"
        );
        assert_eq!(ServiceQuery::List.script(), list);
    }

    #[test]
    fn builds_urls() {
        let pg = Postgres {
            host: "127.0.0.1".to_owned(),
            port: 5432,
            user: "postgres".to_owned(),
        };
        assert_eq!(
            pg.url("support_bench_api"),
            "postgres://postgres@127.0.0.1:5432/support_bench_api"
        );
    }
}

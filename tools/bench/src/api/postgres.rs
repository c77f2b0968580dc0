//! `pgbench`, PostgreSQL's own limit, and the service's statements as
//! `pgbench` scripts.

use support_bench::BoxError;
use support_bench::postgres::{Postgres, tool};
use support_domain::{
    IssueType, Priority, Role, SlaPolicy, Status, TICKET_CREATED_ACTION, TICKET_CREATED_POINTS,
    TicketEventKind,
};
use support_persistence::test_support::statements;

/// `pgbench`, PostgreSQL's own benchmark, against a [`Postgres`].
pub trait PgbenchTool {
    /// Runs `pgbench <args> <database>` and reads its summary.
    fn pgbench(&self, program: &str, database: &str, args: &[&str]) -> Result<Pgbench, BoxError>;

    /// `pgbench -i`: the pgbench tables at `scale` (100,000 accounts per unit).
    fn pgbench_init(&self, program: &str, database: &str, scale: u32) -> Result<(), BoxError>;
}

impl PgbenchTool for Postgres {
    fn pgbench(&self, program: &str, database: &str, args: &[&str]) -> Result<Pgbench, BoxError> {
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

    fn pgbench_init(&self, program: &str, database: &str, scale: u32) -> Result<(), BoxError> {
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

/// A statement of the service, run by `pgbench -f` on the service's own
/// database: what PostgreSQL alone can do of that request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceQuery {
    /// `GET /tickets/{id}`: one ticket of its owner, with its history.
    GetOwn,
    /// `GET /tickets?limit=20`: the newest page of one owner's tickets (21
    /// rows: the 21st says whether there is a next page).
    List,
    /// `POST /tickets`: the create's two writes, the ticket with its event
    /// (one statement) and the points award, each a batch of one, without
    /// the numbering of the event. The service sends the creates and awards
    /// and numbers the events of concurrent creates together, one statement
    /// per batch, which pgbench cannot: a transaction per create of what the
    /// service sends.
    Create,
}

impl ServiceQuery {
    /// All, in the order they run: the reads first, on the seeded database.
    pub const ALL: [Self; 3] = [Self::GetOwn, Self::List, Self::Create];

    /// Its name in the logs.
    pub fn label(self) -> &'static str {
        match self {
            Self::GetOwn => "GET-own-ticket",
            Self::List => "list-page",
            Self::Create => "create",
        }
    }

    /// What the limits table says it runs, after "the service's".
    pub fn description(self) -> &'static str {
        match self {
            Self::GetOwn => "GET-own-ticket statement, a batch of one",
            Self::List => "list-page statement, a batch of one",
            Self::Create => "create's two writes, one award per create, without numbering",
        }
    }

    /// The `pgbench` script: the SQL the service sends ([`statements`]),
    /// the reads' arrays with one element each, its placeholders
    /// replaced by `pgbench` variables (so `-M prepared` binds them too) or,
    /// in the create, by values computed in SQL. `:id` and `:customer` come
    /// from `-D`.
    pub fn script(self) -> Result<String, BoxError> {
        Ok(match self {
            Self::GetOwn => format!(
                "{};\n",
                bind(
                    statements::GET_OWN_TICKETS,
                    &["ARRAY[:id]", "ARRAY[:customer]"]
                )?
            ),
            Self::List => format!(
                "\\set before {}\n\\set limit 21\n{};\n",
                i64::MAX,
                bind(
                    statements::LIST_PAGES,
                    &["ARRAY[:customer]", "ARRAY[:before]", "ARRAY[:limit]"]
                )?
            ),
            Self::Create => create_script()?,
        })
    }
}

/// [`ServiceQuery::Create`]: the create statement as the service sends it
/// for a ticket like the benchmark's (`crate::CREATE_BODY`) of `:customer`,
/// `\gset` keeping the new ticket's id for the points award. The ticket
/// number (unique, as long as the service's) comes from the transaction id,
/// the time from the database.
fn create_script() -> Result<String, BoxError> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Body {
        issue_type: String,
        description: String,
    }
    let body: Body = serde_json::from_str(crate::CREATE_BODY)?;
    let issue_type = IssueType::parse(&body.issue_type).map_err(|e| e.to_string())?;
    // A valid number (`TKT-123456-ABC123`), so that the service's readers
    // can read these events too: the transaction id's low and high digits.
    let number = "('TKT-' || lpad(CAST(txid_current() % 1000000 AS text), 6, '0') || '-' || \
                  lpad(CAST(txid_current() / 1000000 AS text), 6, '0'))";
    let now = "LOCALTIMESTAMP";
    let status = text(Status::Open.as_str());
    let role = text(Role::Customer.as_str());
    // The deadlines a create plans under the default policy: counted from
    // the creation, the first timer the first response's warning.
    let priority = Priority::initial_for(issue_type);
    let policy = SlaPolicy::default();
    let targets = policy.targets(priority);
    let after =
        |d: chrono::TimeDelta| format!("(LOCALTIMESTAMP + INTERVAL '{} seconds')", d.num_seconds());
    let first_response_due = after(targets.first_response);
    let resolution_due = after(targets.resolution);
    let first_timer = after(targets.first_response - policy.warning_lead());
    // In the statement's order: the ticket's columns, then its event's.
    let values = [
        number,
        ":customer",
        "NULL",
        "NULL",
        &text(issue_type.as_str()),
        &text(&body.description),
        now,
        &status,
        &text(priority.as_str()),
        "NULL",
        "NULL",
        now,
        "NULL",
        "NULL",
        "NULL",
        "1",
        "NULL",
        "NULL",
        "NULL",
        &first_response_due,
        &resolution_due,
        "0",
        "0",
        &first_timer,
        &first_response_due,
        ":customer",
        &text(TicketEventKind::Created.name()),
        ":customer",
        &role,
        number,
        &status,
        now,
        "NULL",
        "false",
    ];
    // A batch of one create: the service sends concurrent ones together,
    // which pgbench cannot.
    let arrays: Vec<String> = values.iter().map(|v| format!("ARRAY[{v}]")).collect();
    let arrays: Vec<&str> = arrays.iter().map(String::as_str).collect();
    let create = bind(statements::CREATE_TICKETS, &arrays)?;
    // A batch of one award: the service sends the awards of concurrent
    // creates together, which pgbench cannot.
    let award = bind(
        statements::AWARD_POINTS,
        &[
            "ARRAY[:customer]",
            &format!("ARRAY[{}]", text(TICKET_CREATED_ACTION)),
            &format!("ARRAY[{TICKET_CREATED_POINTS}]"),
            "ARRAY[:new_ticket_id]",
            &format!("ARRAY[{now}]"),
        ],
    )?;
    Ok(format!("{create} \\gset new_\n{award};\n"))
}

/// `sql` with `$1`, `$2`, ... replaced by `values[0]`, `values[1]`, ...;
/// an error if a placeholder has no value or a value no placeholder.
fn bind(sql: &str, values: &[&str]) -> Result<String, BoxError> {
    let mut out = String::with_capacity(sql.len());
    let mut used = vec![false; values.len()];
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let digits = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let n: usize = after[..digits]
            .parse()
            .map_err(|_| format!("a `$` that is no placeholder in: {sql}"))?;
        let value = n
            .checked_sub(1)
            .and_then(|i| values.get(i).zip(used.get_mut(i)))
            .map(|(value, used)| {
                *used = true;
                *value
            })
            .ok_or_else(|| format!("no value for ${n} in: {sql}"))?;
        out.push_str(value);
        rest = &after[digits..];
    }
    out.push_str(rest);
    match used.iter().position(|used| !used) {
        Some(i) => Err(format!("no ${} for the value {} in: {sql}", i + 1, values[i]).into()),
        None => Ok(out),
    }
}

/// `value` as an SQL string literal that `pgbench` leaves alone: it reads
/// every `:name` of a script as a variable, even inside a literal, so each
/// `:` becomes `chr(58)`.
fn text(value: &str) -> String {
    let quoted = value.replace('\'', "''").replace(':', "' || chr(58) || '");
    format!("('{quoted}')")
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

    /// The `:name`s of `script`: what `pgbench` binds (it skips `::`, a cast).
    fn variables(script: &str) -> Vec<&str> {
        let casts: Vec<usize> = script
            .match_indices("::")
            .flat_map(|(at, _)| [at, at + 1])
            .collect();
        script
            .match_indices(':')
            .filter(|(at, _)| !casts.contains(at))
            .map(|(at, _)| {
                let name = &script[at + 1..];
                let end = name
                    .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                    .unwrap_or(name.len());
                &name[..end]
            })
            .collect()
    }

    #[test]
    fn scripts_run_the_services_sql_with_every_value_bound() {
        let scripts = ServiceQuery::ALL.map(|query| query.script().unwrap());
        for script in &scripts {
            // No placeholder left for pgbench to choke on.
            assert!(!script.contains('$'), "{script}");
        }
        let [get_own, list, create] = &scripts;
        // The batch statements, each with a batch of one request.
        assert!(get_own.contains("e.position IS NOT NULL"));
        assert_eq!(variables(get_own), ["id", "customer"]);
        assert!(get_own.contains("unnest(ARRAY[:id]::bigint[], ARRAY[:customer]::bigint[])"));
        assert_eq!(variables(list), ["customer", "before", "limit"]);
        assert!(list.contains(
            "unnest(ARRAY[:customer]::bigint[], ARRAY[:before]::bigint[], ARRAY[:limit]::bigint[])"
        ));
        // Every literal's `:` hidden from pgbench: only the variables are left.
        assert_eq!(
            variables(create),
            [
                "customer",
                "customer",
                "customer",
                "customer",
                "new_ticket_id"
            ]
        );
        assert!(create.contains("FROM unnest(ARRAY[('TKT-' || lpad("));
        assert!(create.contains("ARRAY[NULL]::bigint[]"));
        assert!(create.contains(
            "JOIN ticket ON ticket.id = event.ticket_id \\gset new_\nINSERT INTO points_ledger \
             (user_id, action, points, ticket_id, created_at) SELECT * FROM \
             unnest(ARRAY[:customer]::bigint[]"
        ));
        assert!(create.contains("ARRAY[:new_ticket_id]::bigint[]"));
        assert!(create.ends_with("ON CONFLICT (ticket_id, action) DO NOTHING;\n"));
    }

    #[test]
    fn binds_each_placeholder_once() {
        let values = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"];
        assert_eq!(
            bind("f($11, $1, $10, $2) || $3$4$5$6$7$8$9", &values).unwrap(),
            "f(k, a, j, b) || cdefghi"
        );
        assert!(bind("f($1, $3)", &["a", "b", "c"]).is_err());
        assert!(bind("f($1, $2)", &["a"]).is_err());
        assert!(bind("f($0)", &["a"]).is_err());
        assert!(bind("f($)", &[]).is_err());
    }

    #[test]
    fn hides_colons_in_literals() {
        assert_eq!(text("it's"), "('it''s')");
        assert_eq!(
            text("support:ticket_created"),
            "('support' || chr(58) || 'ticket_created')"
        );
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

//! PostgreSQL through its command-line tools: scratch databases
//! (`createdb`/`dropdb`) and `psql`.

use std::process::Command;

use crate::BoxError;

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
    pub fn connection_args(&self) -> Vec<String> {
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

    /// The rows `sql` returns on `database`, as `psql -At` prints them:
    /// one line a row, columns separated by `|`.
    pub fn query(&self, database: &str, sql: &str) -> Result<String, BoxError> {
        let mut args = self.connection_args();
        args.extend(
            [
                "-X",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                database,
                "-c",
                sql,
            ]
            .map(str::to_owned),
        );
        tool("psql", &args)
    }

    /// Runs each of `commands` with `psql` on `database`, in order (each in
    /// its own transaction, so `VACUUM` can be one).
    pub fn psql(&self, database: &str, commands: &[&str]) -> Result<(), BoxError> {
        let mut args = self.connection_args();
        args.extend(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", database].map(str::to_owned));
        for command in commands {
            args.extend(["-c".to_owned(), (*command).to_owned()]);
        }
        tool("psql", &args).map(|_| ())
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
            eprintln!("could not drop database {}: {error}", self.name);
        }
    }
}

/// Runs a PostgreSQL tool; its standard output, or an error with its
/// standard error.
pub fn tool(program: &str, args: &[String]) -> Result<String, BoxError> {
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

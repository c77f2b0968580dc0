//! Command line: `support-server [serve | migrate | token ...]`.

use clap::{Parser, Subcommand};

/// The mtables support-ticket service.
#[derive(Debug, Parser)]
#[command(name = "support-server", version, about)]
pub struct Cli {
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Sub-commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run migrations, then serve HTTP and WebSocket until SIGINT/SIGTERM.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print a token signed with the configured JWT_SECRET.
    Token {
        /// User id (the `sub` claim).
        #[arg(long)]
        sub: i64,
        /// Role claim: customer, staff, admin, support_admin...
        #[arg(long)]
        role: String,
        /// Comma-separated permissions; omitted: the role's defaults apply.
        #[arg(long, value_delimiter = ',')]
        permissions: Option<Vec<String>>,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl_secs: i64,
    },
}

//! `support-server`: runs the support-ticket service, applies migrations, or
//! prints a token. Configuration comes from the environment (see README).

use std::process::ExitCode;

use clap::Parser;
use support_domain::UserId;
use support_http::{JwtSettings, TokenSigner};
use support_server::cli::{Cli, Command};
use support_server::{Config, JwtSource};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match std::env::var("LOG_FORMAT").as_deref().map(str::trim) {
        // One JSON object per line, with the request span's fields, as log
        // pipelines ingest.
        Ok("json") => logs
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
        Ok("text" | "") | Err(_) => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        Ok(other) => {
            eprintln!("configuration error: LOG_FORMAT: {other:?} is neither text nor json");
            return ExitCode::from(2);
        }
    }

    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(&config).await,
        Command::Migrate => migrate(&config).await,
        Command::Token {
            sub,
            role,
            permissions,
            ttl_secs,
        } => token(&config, sub, &role, permissions.as_deref(), ttl_secs),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: &Config) -> Result<(), String> {
    support_server::open_files::raise_limit();
    let server = support_server::start(config)
        .await
        .map_err(|e| e.to_string())?;
    if let Some((customer, staff)) = server.dev_tokens() {
        println!("dev customer token (user 1): {customer}");
        println!("dev staff token (user 1000): {staff}");
    }
    server.run_until_signal().await.map_err(|e| e.to_string())
}

async fn migrate(config: &Config) -> Result<(), String> {
    let applied = support_server::migrate(config)
        .await
        .map_err(|e| e.to_string())?;
    if applied.is_empty() {
        println!("database is up to date");
    }
    for version in applied {
        println!("applied {version}");
    }
    Ok(())
}

fn token(
    config: &Config,
    sub: i64,
    role: &str,
    permissions: Option<&[String]>,
    ttl_secs: i64,
) -> Result<(), String> {
    let JwtSource::Secret(secret) = &config.jwt else {
        return Err(
            "the token command signs with JWT_SECRET, which is not set (a public-key or dev-mode \
             server cannot verify tokens signed here)"
                .to_owned(),
        );
    };
    if ttl_secs <= 0 {
        return Err("--ttl-secs must be positive".to_owned());
    }
    let user = UserId::new(sub).map_err(|e| format!("--sub: {e}"))?;
    let settings = JwtSettings {
        issuer: config.jwt_issuer.clone(),
        audience: config.jwt_audience.clone(),
    };
    let signer = TokenSigner::hs256(secret.as_bytes(), settings).map_err(|e| e.to_string())?;
    let token = signer
        .sign(user, role, permissions, ttl_secs)
        .map_err(|e| e.to_string())?;
    println!("{token}");
    Ok(())
}

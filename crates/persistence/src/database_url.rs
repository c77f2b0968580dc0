//! The database URL: which backend it names, and where the database is.

use crate::connections::Backend;
use crate::errors::DatabaseError;

/// A database URL, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// What `SqliteConnection::establish` accepts: a path or a `file:` URI.
    Sqlite { location: String, in_memory: bool },
    /// A `postgres://` URL, passed to tokio-postgres as is.
    Postgres { url: String },
}

impl Target {
    /// `postgres://`/`postgresql://` is PostgreSQL; `sqlite://path`,
    /// `sqlite:path`, `file:` URIs and bare paths are SQLite.
    pub(crate) fn parse(url: &str) -> Result<Self, DatabaseError> {
        let url = url.trim();
        if url.is_empty() {
            return Err(DatabaseError::BadUrl("the URL is empty".to_owned()));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres {
                url: url.to_owned(),
            });
        }
        let location = if let Some(rest) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            if rest.is_empty() {
                return Err(DatabaseError::BadUrl(
                    "the sqlite URL names no file".to_owned(),
                ));
            }
            if rest == ":memory:" {
                rest.to_owned()
            } else {
                format!("file:{rest}")
            }
        } else if url.starts_with("file:") {
            url.to_owned()
        } else if let Some(scheme) = scheme_of(url) {
            return Err(DatabaseError::BadUrl(format!(
                "unsupported scheme `{scheme}` (use postgres://, sqlite:// or a file path)"
            )));
        } else {
            url.to_owned()
        };
        let in_memory = location == ":memory:"
            || location.starts_with("file::memory:")
            || location.contains("mode=memory");
        Ok(Self::Sqlite {
            location,
            in_memory,
        })
    }

    pub(crate) fn backend(&self) -> Backend {
        match self {
            Self::Sqlite { .. } => Backend::Sqlite,
            Self::Postgres { .. } => Backend::Postgres,
        }
    }
}

/// The URL scheme, if the text starts with one. A one-letter "scheme" is a
/// Windows drive (`C:\...`), so it is a path.
fn scheme_of(url: &str) -> Option<&str> {
    let (scheme, _) = url.split_once(':')?;
    let mut chars = scheme.chars();
    let valid = scheme.len() > 1
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then_some(scheme)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite(location: &str, in_memory: bool) -> Target {
        Target::Sqlite {
            location: location.to_owned(),
            in_memory,
        }
    }

    #[test]
    fn postgres_urls_choose_postgres() {
        for url in ["postgres://u@h/db", "postgresql://u:p@h:5432/db?x=1"] {
            assert_eq!(
                Target::parse(url).unwrap(),
                Target::Postgres {
                    url: url.to_owned()
                }
            );
        }
    }

    #[test]
    fn sqlite_urls_and_paths_choose_sqlite() {
        let cases = [
            (
                "sqlite:///var/lib/t.db",
                sqlite("file:/var/lib/t.db", false),
            ),
            ("sqlite://t.db", sqlite("file:t.db", false)),
            ("sqlite:t.db", sqlite("file:t.db", false)),
            ("file:t.db?mode=rwc", sqlite("file:t.db?mode=rwc", false)),
            ("/var/lib/t.db", sqlite("/var/lib/t.db", false)),
            ("data/t.db", sqlite("data/t.db", false)),
            ("C:\\data\\t.db", sqlite("C:\\data\\t.db", false)),
            ("sqlite::memory:", sqlite(":memory:", true)),
            ("sqlite://:memory:", sqlite(":memory:", true)),
            (":memory:", sqlite(":memory:", true)),
            (
                "file::memory:?cache=shared",
                sqlite("file::memory:?cache=shared", true),
            ),
        ];
        for (url, expected) in cases {
            assert_eq!(Target::parse(url).unwrap(), expected, "{url}");
        }
    }

    #[test]
    fn other_schemes_and_empty_urls_are_refused() {
        for url in [
            "",
            "  ",
            "mysql://u@h/db",
            "postgres:db",
            "sqlite://",
            "sqlite:",
        ] {
            assert!(
                matches!(Target::parse(url), Err(DatabaseError::BadUrl(_))),
                "{url:?} accepted"
            );
        }
    }

    #[test]
    fn bad_url_messages_do_not_leak_credentials() {
        let err = Target::parse("mysql://admin:hunter2@h/db").unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}

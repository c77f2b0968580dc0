//! The error of a value type's constructor: which rule a value broke.

/// A single value that broke a domain rule, with a message a client can show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct InvalidValue {
    message: String,
}

impl InvalidValue {
    /// Wraps a human-readable reason.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// The reason, for error responses.
    pub fn message(&self) -> &str {
        &self.message
    }
}

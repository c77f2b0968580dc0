//! Checking free text a person wrote: trimmed, no control characters but
//! line breaks and tabs, a length counted in characters (Unicode scalar
//! values, so accents and emoji count once each).

use crate::invalid_value::InvalidValue;

/// Control characters other than tab and line breaks have no place in text a
/// person wrote; NUL in particular cannot be stored in PostgreSQL `TEXT`.
fn reject_control_chars(text: &str) -> Result<(), InvalidValue> {
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(InvalidValue::new("must not contain control characters"));
    }
    Ok(())
}

/// `value` trimmed, if it has `min..=max` characters and no control
/// characters; the error says which rule it broke.
pub(crate) fn bounded_text(value: &str, min: usize, max: usize) -> Result<String, InvalidValue> {
    let trimmed = value.trim();
    reject_control_chars(trimmed)?;
    let chars = trimmed.chars().count();
    if chars < min {
        return Err(InvalidValue::new(if min == 1 {
            "must not be empty".to_owned()
        } else {
            format!("must be at least {min} characters after trimming")
        }));
    }
    if chars > max {
        return Err(InvalidValue::new(format!(
            "must be at most {max} characters"
        )));
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_counts_characters_and_refuses_control_characters() {
        assert_eq!(bounded_text("  hi  ", 1, 5), Ok("hi".to_owned()));
        assert!(bounded_text("   ", 1, 5).is_err());
        assert!(bounded_text(&"é".repeat(5), 1, 5).is_ok());
        assert!(bounded_text(&"é".repeat(6), 1, 5).is_err());
        assert!(bounded_text("a\u{0}b", 1, 5).is_err());
        assert!(bounded_text("a\nb", 1, 5).is_ok());
    }
}

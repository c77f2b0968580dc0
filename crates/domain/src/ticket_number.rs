//! The human-facing ticket number, e.g. `TKT-123456-AB12CD`.

use crate::invalid_value::InvalidValue;

/// A ticket number: `TKT-`, six digits, `-`, six characters of `[A-Z0-9]`.
/// Customers quote it to support, so it is short, unambiguous and unique.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TicketNumber(String);

impl TicketNumber {
    /// Length of the whole number, e.g. `TKT-123456-AB12CD`.
    pub const LEN: usize = 17;

    /// Validates the format.
    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        let bytes = value.as_bytes();
        let valid = bytes.len() == Self::LEN
            && value.starts_with("TKT-")
            && bytes[4..10].iter().all(u8::is_ascii_digit)
            && bytes[10] == b'-'
            && bytes[11..]
                .iter()
                .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase());
        if valid {
            Ok(Self(value.to_owned()))
        } else {
            Err(InvalidValue::new(
                "ticket number must look like TKT-123456-ABC123",
            ))
        }
    }

    /// Builds a number from random material supplied by an adapter: `digits`
    /// is taken modulo 10^6 and each `suffix` value modulo 36 picks from
    /// `A-Z0-9`. Always valid, so generation cannot fail.
    pub fn from_random(digits: u32, suffix: [u8; 6]) -> Self {
        const ALPHABET: &[u8; 36] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        let mut text = format!("TKT-{:06}-", digits % 1_000_000);
        text.extend(
            suffix
                .iter()
                .map(|&i| char::from(ALPHABET[usize::from(i) % 36])),
        );
        Self(text)
    }

    /// The number as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TicketNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_format() {
        assert!(TicketNumber::parse("TKT-123456-ABCDEF").is_ok());
        assert!(TicketNumber::parse("TKT-000000-A1B2C3").is_ok());
    }

    #[test]
    fn random_material_always_gives_a_valid_number() {
        for (digits, suffix) in [
            (0, [0; 6]),
            (u32::MAX, [255; 6]),
            (123, [35, 0, 1, 2, 3, 4]),
        ] {
            let n = TicketNumber::from_random(digits, suffix);
            assert_eq!(TicketNumber::parse(n.as_str()), Ok(n.clone()));
        }
        assert_eq!(
            TicketNumber::from_random(42, [0, 1, 2, 25, 26, 35]).as_str(),
            "TKT-000042-ABCZ09"
        );
    }

    #[test]
    fn rejects_anything_else() {
        for bad in [
            "",
            "TKT-12345-ABCDEF",
            "TKT-123456-abcdef",
            "TKX-123456-ABCDEF",
            "TKT-123456-ABCDEFG",
            "TKT-12a456-ABCDEF",
            "TKT-123456_ABCDEF",
            "TKT-123456-ABCDÉ",
        ] {
            assert!(TicketNumber::parse(bad).is_err(), "{bad} accepted");
        }
    }
}

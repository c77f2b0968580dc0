//! `string_enum!`: a closed set of values stored and sent as snake_case
//! names ([`crate::Status`], [`crate::Priority`], [`crate::IssueType`]),
//! written once: the enum, `ALL`, `as_str`, `Display` and the exact-name
//! parser the types' own `parse` builds on.

/// `string_enum! { /// doc  #[derive(..)] pub enum Name { /// doc  Variant => "name", ... } }`
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$variant_meta:meta])* $variant:ident => $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        pub enum $name {
            $( $(#[$variant_meta])* $variant, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: [Self; [$($text),+].len()] = [$(Self::$variant),+];

            /// The stored and serialised name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }

            /// The value named exactly `value`.
            fn from_name(value: &str) -> Result<Self, $crate::InvalidValue> {
                Self::ALL
                    .into_iter()
                    .find(|v| v.as_str() == value)
                    .ok_or_else(|| {
                        $crate::InvalidValue::new(concat!("must be one of ", string_enum!(@list $($text),+)))
                    })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
    (@list $first:literal $(, $rest:literal)*) => {
        concat!($first $(, ", ", $rest)*)
    };
}

pub(crate) use string_enum;

//! A redacting holder for credentials: its `Debug` and `Display` never show the value.

/// A secret string (provider key, API key, token). Prints as `*****`; the value is reachable
/// only through [`Secret::expose`], so every use of the plain text is greppable.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The plain text. Call only where the value leaves for its one legitimate use
    /// (an upstream header, a hash).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The last four characters, the only part ever shown to a user.
    pub fn last4(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
        let start = chars.len().saturating_sub(4);
        chars[start..].iter().collect()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(*****)")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("*****")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_redact() {
        let s = Secret::new("sk-very-secret-1234");
        assert_eq!(format!("{s:?}"), "Secret(*****)");
        assert_eq!(format!("{s}"), "*****");
        assert_eq!(s.last4(), "1234");
        assert_eq!(Secret::new("ab").last4(), "ab");
    }
}

//! The bounds every free-text entry meets before its own rules: a length limit and, where the
//! field takes none, no control characters.
//!
//! A [`Field`] pairs the name errors use with the field's limit, so log sources, metrics targets
//! and labels refuse an overlong or multi-line entry with the same words.

use crate::error::InputError;

/// A free-text field of agent input: its name in errors and its longest value in bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field {
    /// The name errors give the field: `log source`, `metrics target`, `label`.
    pub(crate) name: &'static str,
    /// The longest accepted value, in bytes.
    pub(crate) max: usize,
}

// === impl Field ===

impl Field {
    /// Refuses `text` if it is longer than the field's limit; the error quotes `shown()`.
    pub(crate) fn check_len(
        self,
        text: &str,
        shown: impl FnOnce() -> String,
    ) -> Result<(), InputError> {
        if text.len() > self.max {
            return Err(InputError::TooLong {
                field: self.name,
                value: shown(),
                max: self.max,
            });
        }
        Ok(())
    }

    /// Refuses `text` if it is too long or holds a control character (newline, tab, NUL, ...);
    /// the error quotes `shown()`.
    pub(crate) fn check(self, text: &str, shown: impl Fn() -> String) -> Result<(), InputError> {
        self.check_len(text, &shown)?;
        if text.chars().any(char::is_control) {
            return Err(InputError::ControlCharacter {
                field: self.name,
                value: shown(),
            });
        }
        Ok(())
    }
}

//! Where xl's stderr messages collect, in order, before the caller prints them.

/// An ordered buffer of the messages xl would write to stderr.
#[derive(Debug, Default, Clone)]
pub struct Report {
    text: String,
    /// Syntax errors with their source position, for caret snippets.
    pub diagnostics: Vec<crate::syntax::Diagnostic>,
}

impl Report {
    /// An empty report.
    pub fn new() -> Self {
        Self::default()
    }

    /// Append one line (a newline is added).
    pub fn line(&mut self, s: impl AsRef<str>) {
        self.text.push_str(s.as_ref());
        self.text.push('\n');
    }

    /// Append raw text (xl has a few messages without a trailing newline).
    pub fn raw(&mut self, s: impl AsRef<str>) {
        self.text.push_str(s.as_ref());
    }

    /// The text collected so far.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether no text was collected.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// Hand the collected text over, leaving the buffer empty.
    pub fn take(&mut self) -> String {
        std::mem::take(&mut self.text)
    }
}

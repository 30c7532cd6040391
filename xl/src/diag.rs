//! Caret snippets for configuration errors, printed after xl's own lines.
//!
//! They go to stderr only when it is a terminal, or when `XL_DIAG=caret`:
//! scripts that parse xl's stderr see exactly xl's bytes.

use std::io::IsTerminal;

use xl_config::syntax::Diagnostic;

pub fn enabled() -> bool {
    match std::env::var("XL_DIAG").as_deref() {
        Ok("caret") => true,
        Ok(_) => false,
        Err(_) => std::io::stderr().is_terminal(),
    }
}

/// Render one diagnostic as `--> file:line:col`, the source line and a caret.
pub fn render(source_name: &str, src: &str, d: &Diagnostic) -> String {
    let (start, end) = d.span;
    let start = start.min(src.len());
    let line_start = src[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = src[start..].find('\n').map_or(src.len(), |i| start + i);
    let line_no = src[..start].matches('\n').count() + 1;
    let col = src[line_start..start].chars().count() + 1;
    let text = &src[line_start..line_end];
    let width = src[start..end.clamp(start, line_end)]
        .chars()
        .count()
        .max(1);
    let gutter = line_no.to_string().len();
    format!(
        "{pad} --> {source_name}:{line_no}:{col}\n{pad} |\n{line_no} | {text}\n{pad} | {sp}{carets} {msg}\n",
        pad = " ".repeat(gutter),
        sp = " ".repeat(col - 1),
        carets = "^".repeat(width),
        msg = d.message,
    )
}

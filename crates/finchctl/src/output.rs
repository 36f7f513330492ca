//! What finchctl prints, and where: data on stdout, everything else on stderr.
//!
//! Every reporting command renders one serializable value as a table, JSON or YAML, so the
//! JSON schema of a command is its Rust type. Errors print as `error: <chain>` plus a `hint:`
//! naming the command that fixes them; when JSON was asked for, the error is also printed as
//! JSON on stdout so scripts always get JSON. [`Problem`] carries the hint and whether the
//! error is a usage error (exit 2) through anyhow's chain.

use std::io::Write;
use std::process::ExitCode;

use serde::Serialize;

/// Exit code of a failed command.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code of a usage error (a bad flag or value).
pub const EXIT_USAGE: u8 = 2;

/// How a reporting command prints its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// Aligned columns for people.
    #[default]
    Table,
    /// One JSON document.
    Json,
    /// One YAML document.
    Yaml,
}

/// An error with a fix: the message, an optional hint, and whether it is a usage error.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Problem {
    /// What went wrong, naming the flag, file or host.
    pub message: String,
    /// The command or step that fixes it.
    pub hint: Option<String>,
    /// Usage errors exit with status 2.
    pub usage: bool,
}

/// Prints data and messages for one command run.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    /// The requested format.
    pub format: OutputFormat,
}

#[derive(Serialize)]
struct JsonError<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    hint: Option<&'a str>,
}

// === impl Problem ===

impl Problem {
    /// A failure (exit 1).
    pub fn failed(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: None,
            usage: false,
        }
    }

    /// A usage error (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: None,
            usage: true,
        }
    }

    /// Adds a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

// === impl Output ===

impl Output {
    /// Prints `value` in the requested format; `table` renders the table form.
    pub fn data<T: Serialize>(
        &self,
        value: &T,
        table: impl FnOnce() -> String,
    ) -> anyhow::Result<()> {
        let text = match self.format {
            OutputFormat::Table => table(),
            OutputFormat::Json => {
                let mut s = serde_json::to_string_pretty(value)?;
                s.push('\n');
                s
            }
            OutputFormat::Yaml => serde_norway::to_string(value)?,
        };
        stdout(&text)
    }

    /// A progress or result line on stderr: a right-aligned verb and its object, as cargo does.
    pub fn status(&self, verb: &str, object: &str) {
        eprintln!("{verb:>12} {object}");
    }

    /// A warning on stderr.
    pub fn warn(&self, message: &str) {
        eprintln!("warning: {message}");
    }

    /// Reports `err` and returns the exit code: 2 for usage errors, 0 for a closed stdout
    /// (a broken pipe is not a failure), 1 otherwise.
    pub fn report(&self, err: &anyhow::Error) -> ExitCode {
        if is_broken_pipe(err) {
            return ExitCode::SUCCESS;
        }
        let problem = err.chain().find_map(|e| e.downcast_ref::<Problem>());
        let hint = problem.and_then(|p| p.hint.as_deref());
        let message = format!("{err:#}");
        if self.format == OutputFormat::Json {
            let json = JsonError {
                error: &message,
                hint,
            };
            if let Ok(text) = serde_json::to_string_pretty(&json) {
                let _ = stdout(&format!("{text}\n"));
            }
        }
        eprintln!("error: {message}");
        if let Some(hint) = hint {
            eprintln!("hint: {hint}");
        }
        if problem.is_some_and(|p| p.usage) {
            ExitCode::from(EXIT_USAGE)
        } else {
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// Writes `text` to stdout.
pub fn stdout(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Renders rows as aligned columns separated by two spaces, with an optional header row.
///
/// ```
/// let t = finchctl::output::table(Some(&["#", "Hostname"]), &[vec!["1".into(), "web".into()]]);
/// assert_eq!(t, "#  Hostname\n1  web\n");
/// ```
pub fn table(header: Option<&[&str]>, rows: &[Vec<String>]) -> String {
    let mut all: Vec<Vec<String>> = Vec::with_capacity(rows.len() + 1);
    if let Some(header) = header {
        all.push(header.iter().map(|h| (*h).to_owned()).collect());
    }
    all.extend(rows.iter().cloned());
    let columns = all.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            all.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in &all {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}  ", w = widths[c]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_pipe_exits_0_quietly_and_usage_exits_2() {
        let output = Output {
            format: OutputFormat::Table,
        };
        let pipe = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert_eq!(output.report(&pipe), ExitCode::SUCCESS);
        let usage = anyhow::Error::new(Problem::usage("bad flag"));
        assert_eq!(output.report(&usage), ExitCode::from(EXIT_USAGE));
        let failed = anyhow::Error::new(Problem::failed("no").hint("do this"));
        assert_eq!(output.report(&failed), ExitCode::from(EXIT_FAILURE));
    }

    #[test]
    fn table_aligns_columns_without_trailing_spaces() {
        let rows = vec![
            vec!["Hostname".to_owned(), "web-1".to_owned()],
            vec!["Id".to_owned(), String::new()],
        ];
        assert_eq!(table(None, &rows), "Hostname  web-1\nId\n");
    }
}

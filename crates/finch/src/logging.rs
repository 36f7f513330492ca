//! Log output in Finch 1.x's two formats, on stdout.
//!
//! `structured` is logfmt as Go's `slog` text handler writes it
//! (`time=… level=INFO msg="…" key=value`) and `json` one object per line with `time`, `level`,
//! `msg` and the event's fields. Keeping 1.x's keys means log pipelines built for 1.x (the stack's
//! own Alloy ships Finch's logs to Loki) keep parsing ours. Fields use dotted names where they are
//! new, and 1.x's names (`remote_addr`, `user_agent`) where 1.x had them.

use std::fmt::{self, Write as _};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// `--server.log-level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogLevel {
    /// Everything, including each allowed request.
    Debug,
    /// Start, listeners and shutdown, plus warnings and errors.
    Info,
    /// Refused requests and problems.
    Warn,
    /// Problems someone must act on.
    Error,
}

/// `--server.log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// logfmt: `time=… level=INFO msg="…" key=value`.
    Structured,
    /// One JSON object per line.
    Json,
}

/// Installs the global subscriber. Call once, first thing in `main`.
pub fn init(level: LogLevel, format: LogFormat) {
    let max_level = match level {
        LogLevel::Debug => Level::DEBUG,
        LogLevel::Info => Level::INFO,
        LogLevel::Warn => Level::WARN,
        LogLevel::Error => Level::ERROR,
    };
    tracing_subscriber::fmt()
        .with_max_level(max_level)
        .with_writer(std::io::stdout)
        .event_format(LineFormat { format })
        .init();
}

/// Formats one event as a line in either format.
pub struct LineFormat {
    /// Which format.
    pub format: LogFormat,
}

impl<S, N> FormatEvent<S, N> for LineFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let time = OffsetDateTime::now_utc()
            .format(&Rfc3339)
            .unwrap_or_default();
        let level = level_name(*event.metadata().level());
        match self.format {
            LogFormat::Structured => {
                write!(writer, "time={time} level={level} msg=")?;
                write_logfmt_value(&mut writer, &fields.message)?;
                for (key, value) in &fields.pairs {
                    write!(writer, " {key}=")?;
                    write_logfmt_value(&mut writer, value.as_text())?;
                }
            }
            LogFormat::Json => {
                let mut object = serde_json::Map::new();
                object.insert("time".into(), time.into());
                object.insert("level".into(), level.into());
                object.insert("msg".into(), fields.message.into());
                for (key, value) in fields.pairs {
                    object.insert(key.into(), value.into_json());
                }
                let line = serde_json::Value::Object(object).to_string();
                writer.write_str(&line)?;
            }
        }
        writeln!(writer)
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARN",
        Level::INFO => "INFO",
        // slog has no TRACE; both map to DEBUG.
        _ => "DEBUG",
    }
}

/// Quotes a value when logfmt needs it, as slog does.
fn write_logfmt_value(writer: &mut Writer<'_>, value: &str) -> fmt::Result {
    let needs_quotes = value.is_empty()
        || value
            .chars()
            .any(|c| c == ' ' || c == '"' || c == '=' || c.is_control() || !c.is_ascii());
    if needs_quotes {
        write!(writer, "{value:?}")
    } else {
        writer.write_str(value)
    }
}

#[derive(Default)]
struct Fields {
    message: String,
    pairs: Vec<(&'static str, FieldValue)>,
}

enum FieldValue {
    Text(String),
    Number(serde_json::Number, String),
    Bool(bool),
}

impl FieldValue {
    fn as_text(&self) -> &str {
        match self {
            FieldValue::Text(text) | FieldValue::Number(_, text) => text,
            FieldValue::Bool(true) => "true",
            FieldValue::Bool(false) => "false",
        }
    }

    fn into_json(self) -> serde_json::Value {
        match self {
            FieldValue::Text(text) => text.into(),
            FieldValue::Number(number, _) => number.into(),
            FieldValue::Bool(value) => value.into(),
        }
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_owned();
        } else {
            self.pairs
                .push((field.name(), FieldValue::Text(value.to_owned())));
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.pairs.push((
            field.name(),
            FieldValue::Number(value.into(), value.to_string()),
        ));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.pairs.push((
            field.name(),
            FieldValue::Number(value.into(), value.to_string()),
        ));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.pairs.push((field.name(), FieldValue::Bool(value)));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        if field.name() == "message" {
            self.message = text;
        } else {
            self.pairs.push((field.name(), FieldValue::Text(text)));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::fmt::MakeWriter;

    use super::*;

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Capture {
        type Writer = Capture;
        fn make_writer(&'a self) -> Capture {
            self.clone()
        }
    }

    fn capture(format: LogFormat) -> String {
        let sink = Capture::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(sink.clone())
            .event_format(LineFormat { format })
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(
                remote_addr = "10.0.0.1",
                reason = "token has expired",
                status = 401u64,
                "Auth request refused"
            );
        });
        let bytes = sink.0.lock().expect("lock").clone();
        String::from_utf8(bytes).expect("utf-8")
    }

    #[test]
    fn structured_lines_look_like_slog_text() {
        let line = capture(LogFormat::Structured);
        assert!(line.starts_with("time="), "{line}");
        assert!(
            line.contains(
                r#" level=WARN msg="Auth request refused" remote_addr=10.0.0.1 reason="token has expired" status=401"#
            ),
            "{line}"
        );
        assert!(line.ends_with('\n'));
    }

    #[test]
    fn json_lines_have_time_level_msg_and_fields() {
        let line = capture(LogFormat::Json);
        let value: serde_json::Value = serde_json::from_str(line.trim()).expect("json");
        assert_eq!(value["level"], "WARN");
        assert_eq!(value["msg"], "Auth request refused");
        assert_eq!(value["remote_addr"], "10.0.0.1");
        assert_eq!(value["status"], 401);
        assert!(value["time"].is_string());
    }
}

//! [`LogCapture`]: the JSON records the in-process service logs, for tests that assert on what
//! an operator reads. One subscriber per test binary (tracing has one global default), so the
//! records of every test in the binary accumulate; filter them by something the test owns.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

/// Every JSON log record this test binary wrote since [`LogCapture::install`].
#[derive(Clone)]
pub struct LogCapture {
    buffer: Arc<Mutex<Vec<u8>>>,
}

struct Sink(Arc<Mutex<Vec<u8>>>);

// === impl LogCapture ===

impl LogCapture {
    /// Installs the capturing subscriber once per binary and returns the capture.
    pub fn install() -> LogCapture {
        static CAPTURE: OnceLock<LogCapture> = OnceLock::new();
        CAPTURE
            .get_or_init(|| {
                let buffer = Arc::new(Mutex::new(Vec::new()));
                let sink = Arc::clone(&buffer);
                tracing_subscriber::fmt()
                    .json()
                    .flatten_event(true)
                    .with_writer(move || Sink(Arc::clone(&sink)))
                    .init();
                LogCapture { buffer }
            })
            .clone()
    }

    /// Every record so far, parsed.
    pub fn records(&self) -> Vec<serde_json::Value> {
        let text = String::from_utf8(self.buffer.lock().unwrap().clone()).unwrap();
        text.lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }
}

// === impl Sink ===

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

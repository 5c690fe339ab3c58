//! Progress of long operations: a spinner with a message on a terminal, plain structured log
//! lines otherwise (CI, cron, containers), so logs stay machine-readable.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// Starts showing `message`.
    pub fn start(message: impl Into<String>) -> Progress {
        let message = message.into();
        if !std::io::stderr().is_terminal() {
            tracing::info!(step = message.as_str(), "started");
            return Progress { bar: None };
        }
        let bar = ProgressBar::new_spinner();
        if let Ok(style) = ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}") {
            bar.set_style(style);
        }
        bar.set_message(message);
        bar.enable_steady_tick(Duration::from_millis(120));
        Progress { bar: Some(bar) }
    }

    /// Replaces the message (e.g. `transforming run 3/43`).
    pub fn update(&self, message: impl Into<String>) {
        let message = message.into();
        match &self.bar {
            Some(bar) => bar.set_message(message),
            None => tracing::info!(step = message.as_str(), "progress"),
        }
    }

    /// Clears the spinner; the caller prints the result.
    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

//! Terminal progress while suites run: an indicatif spinner on a TTY, plain lines otherwise.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use loadgen::SecondSample;

/// Where progress goes; `Quiet` prints nothing (tests).
#[derive(Debug, Clone)]
pub enum Progress {
    /// No output.
    Quiet,
    /// Plain lines on stderr.
    Lines,
    /// A spinner with the latest second's numbers.
    Bar(ProgressBar),
}

impl Progress {
    /// A bar on a terminal, lines otherwise; `Quiet` when `enabled` is false.
    pub fn new(enabled: bool) -> Self {
        if !enabled {
            return Progress::Quiet;
        }
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} [{elapsed_precise}] {prefix} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            Progress::Bar(bar)
        } else {
            Progress::Lines
        }
    }

    /// A line that stays (suite start, actions, phase ends).
    pub fn note(&self, msg: &str) {
        match self {
            Progress::Quiet => {}
            Progress::Lines => eprintln!("{msg}"),
            Progress::Bar(bar) => bar.println(msg),
        }
    }

    /// The current stage (suite and phase).
    pub fn stage(&self, msg: &str) {
        match self {
            Progress::Quiet => {}
            Progress::Lines => eprintln!("{msg}"),
            Progress::Bar(bar) => {
                bar.set_prefix(msg.to_owned());
                bar.set_message("");
            }
        }
    }

    /// One second of load finished.
    pub fn sample(&self, s: &SecondSample) {
        let line = format!(
            "t={:>3}s {:>7}/s  errors {:>4}  non-2xx {:>4}  p50 {:.2}ms  p99 {:.2}ms",
            s.second,
            s.responses,
            s.errors,
            s.non_success,
            s.p50_us as f64 / 1000.0,
            s.p99_us as f64 / 1000.0
        );
        match self {
            Progress::Quiet => {}
            Progress::Lines => eprintln!("    {line}"),
            Progress::Bar(bar) => bar.set_message(line),
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Progress::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

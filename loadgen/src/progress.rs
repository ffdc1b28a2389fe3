//! Live progress from the per-second samples: an indicatif bar on a terminal, plain lines
//! otherwise.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::report::SecondSample;

fn line(s: &SecondSample) -> String {
    let target = s
        .target_rate
        .map(|t| format!(" (target {t:.0})"))
        .unwrap_or_default();
    format!(
        "t={:>4}s  {:>8}/s{target}  errors {:>5}  late {:>5}  p50 {:.2}ms  p99 {:.2}ms",
        s.second,
        s.responses,
        s.errors,
        s.late,
        s.p50_us as f64 / 1000.0,
        s.p99_us as f64 / 1000.0,
    )
}

/// Shows each second's sample until the channel closes; `expected` sizes the bar.
pub fn spawn(
    mut rx: mpsc::UnboundedReceiver<SecondSample>,
    expected: Option<Duration>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        if std::io::stderr().is_terminal() {
            let bar = match expected {
                Some(d) => ProgressBar::new(d.as_secs()),
                None => ProgressBar::new_spinner(),
            };
            let style =
                ProgressStyle::with_template("[{elapsed_precise}] {bar:30} {pos}/{len}s {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            while let Some(s) = rx.recv().await {
                bar.set_position(s.second + 1);
                bar.set_message(line(&s));
            }
            bar.finish_and_clear();
        } else {
            while let Some(s) = rx.recv().await {
                eprintln!("{}", line(&s));
            }
        }
    })
}

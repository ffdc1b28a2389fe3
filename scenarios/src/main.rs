//! `scenarios`: runs the bundled (or given) suites and reports; `scenarios demo` for a live show.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use scenarios::suite::BUNDLED;
use scenarios::{LoadedSuite, RunConfig, progress::Progress, report};

#[derive(Parser, Debug)]
#[command(
    version,
    about = "Run Rampart's resilience suites against proxy + mock backends"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Suite to run: a bundled name or a file (repeatable; default: every bundled suite).
    #[arg(long = "suite", value_name = "NAME|FILE")]
    suites: Vec<String>,
    /// List the bundled suites and exit.
    #[arg(long)]
    list: bool,
    /// Write JUnit XML (one testcase per check).
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Write the results as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write a self-contained HTML report with plots.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Override every suite's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Short durations (every time scaled by 0.5) for CI.
    #[arg(long)]
    quick: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Long-running live chaos demo: proxy + 3 backends + load, faults injected on a loop.
    Demo {
        /// Stop after this long (e.g. `60s`); default: until Ctrl-C.
        #[arg(long, value_parser = humantime::parse_duration)]
        duration: Option<Duration>,
        /// Requests per second.
        #[arg(long, default_value_t = 200.0)]
        rate: f64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Some(Command::Demo { duration, rate }) = cli.command {
        let cancel = scenarios::demo::cancel_on_ctrl_c();
        let opts = scenarios::demo::DemoOptions {
            duration,
            rate,
            ..Default::default()
        };
        let report = scenarios::demo::run(opts, cancel)
            .await
            .map_err(anyhow::Error::msg)?;
        println!("{report}");
        return Ok(ExitCode::SUCCESS);
    }
    if cli.list {
        for (name, text) in BUNDLED {
            let desc = LoadedSuite::from_str(text, name, std::path::Path::new("."))
                .map(|s| {
                    s.suite
                        .description
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_else(|e| format!("INVALID: {e}"));
            println!("{name:<16} {desc}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let names: Vec<String> = if cli.suites.is_empty() {
        BUNDLED.iter().map(|(n, _)| (*n).to_owned()).collect()
    } else {
        cli.suites.clone()
    };
    let mut suites = Vec::new();
    for name in &names {
        match LoadedSuite::resolve(name) {
            Ok(s) => suites.push(s),
            Err(e) => {
                eprintln!("invalid suite: {e}");
                return Ok(ExitCode::from(2));
            }
        }
    }
    let config = RunConfig {
        seed: cli.seed,
        time_scale: if cli.quick {
            scenarios::QUICK_SCALE
        } else {
            1.0
        },
        progress: Progress::new(true),
    };
    let mut results = Vec::new();
    for suite in &suites {
        results.push(scenarios::run_suite(suite, &config).await);
    }
    config.progress.finish();
    print!("{}", report::table(&results));
    if let Some(path) = &cli.junit {
        std::fs::write(path, report::junit(&results))?;
    }
    if let Some(path) = &cli.json {
        std::fs::write(path, report::json(&results))?;
    }
    if let Some(path) = &cli.report {
        std::fs::write(path, report::html(&results))?;
        eprintln!("report written to {}", path.display());
    }
    Ok(if results.iter().all(scenarios::SuiteResult::passed) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

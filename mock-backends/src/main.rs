//! `mock-backends`: start a fleet of mock backends and print where they listen.

use std::io::Write as _;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use mock_backends::{Behavior, FleetConfig, MockFleet};

/// Exit code for a bad command line or config file (EX_USAGE).
const EXIT_USAGE: u8 = 64;

/// Start mock backends that fail on purpose; prints `ID ADDRESS` per backend; Ctrl-C stops.
#[derive(Debug, Parser)]
#[command(name = "mock-backends", version)]
struct Args {
    /// Number of backends (ignored with --config).
    #[arg(long, default_value_t = 1)]
    count: usize,
    /// Port of the first backend; the others follow. 0 picks free ports.
    #[arg(long, default_value_t = 9001)]
    base_port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Fleet description (YAML): count or backends, behaviour, ports.
    #[arg(long, conflicts_with = "count")]
    config: Option<PathBuf>,
    /// Behaviour file (YAML or JSON) for every backend.
    #[arg(long)]
    behavior: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let config = match fleet_config(&args) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("mock-backends: {error:#}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match run(&config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("mock-backends: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn fleet_config(args: &Args) -> anyhow::Result<FleetConfig> {
    let mut config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            FleetConfig::from_yaml(&text).with_context(|| format!("in {}", path.display()))?
        }
        None => FleetConfig {
            host: args.host,
            base_port: args.base_port,
            ..FleetConfig::count(args.count, Behavior::default())
        },
    };
    if let Some(path) = &args.behavior {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        config.behavior =
            Behavior::from_text(&text, None).with_context(|| format!("in {}", path.display()))?;
    }
    config.backend_configs()?;
    Ok(config)
}

async fn run(config: &FleetConfig) -> anyhow::Result<()> {
    let fleet = MockFleet::from_config(config).await?;
    let mut stdout = std::io::stdout().lock();
    for backend in fleet.backends() {
        writeln!(stdout, "{} {}", backend.id(), backend.addr())?;
    }
    stdout.flush()?;
    drop(stdout);
    tracing::info!(
        backends = fleet.len(),
        "mock backends running; Ctrl-C stops them"
    );
    shutdown_signal().await;
    fleet.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

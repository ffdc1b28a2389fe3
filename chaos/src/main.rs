//! `chaos`: Toxiproxy's HTTP API over Rampart's fault proxies.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chaos::api::{self, ProxyInput, Registry};
use clap::Parser;

/// A TCP fault proxy speaking Toxiproxy's HTTP API.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Address the API listens on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port the API listens on.
    #[arg(long, default_value_t = 8474)]
    port: u16,
    /// JSON file of proxies to create at start (the body `POST /populate` takes).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Seed for toxicity draws and toxic randomness (reproducible runs).
    #[arg(long)]
    seed: Option<u64>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("chaos: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chaos: {e:#}");
            ExitCode::from(64)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let registry = Registry::new(cli.seed);
    if let Some(path) = &cli.config {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let input: Vec<ProxyInput> = serde_json::from_str(&text)
            .with_context(|| format!("{}: expected a JSON array of proxies", path.display()))?;
        let proxies = registry
            .populate(input)
            .await
            .with_context(|| format!("{}: populating proxies", path.display()))?;
        tracing::info!(proxies = proxies.len(), "populated proxies from file");
    }
    let addr: SocketAddr = format!("{}:{}", cli.host, cli.port)
        .parse()
        .with_context(|| format!("--host {} --port {}: not an address", cli.host, cli.port))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the API on {addr}"))?;
    // One line on stdout that tools (and the tests, with --port 0) read the address from.
    println!("chaos API on http://{}", listener.local_addr()?);
    axum::serve(listener, api::router(registry))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

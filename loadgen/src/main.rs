//! `loadgen` binary: parse flags into a [`loadgen::LoadSpec`], run it, print and save the report.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use loadgen::{KeySpec, LoadSpec, Protocol, RequestTemplate, RunOptions, Stage, TlsSpec};

/// Open-loop (no coordinated omission) and closed-loop HTTP/h2/WebSocket/SSE load generator.
///
/// `loadgen merge A.json B.json … --json OUT.json` merges reports instead (see `loadgen merge --help`).
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Target URL (http, https, ws, wss); not needed with --spec.
    #[arg(required_unless_present = "spec")]
    url: Option<String>,
    /// Open mode: requests (or WS messages) per second.
    #[arg(long)]
    rate: Option<f64>,
    /// Open mode stages, repeatable: RATE@DURATION or FROM..TO@DURATION (ramp), e.g. 100..500@30s.
    #[arg(long = "stage", value_parser = parse_stage)]
    stages: Vec<Stage>,
    /// Connections (closed-mode workers, open-mode pool, SSE streams).
    #[arg(short, long, default_value_t = 64)]
    connections: usize,
    /// Run length, e.g. 30s.
    #[arg(short, long, value_parser = humantime::parse_duration)]
    duration: Option<Duration>,
    /// Closed mode: stop after exactly this many requests.
    #[arg(short = 'n', long)]
    requests: Option<u64>,
    /// Use HTTP/2 (h2c on http://, ALPN h2 on https://).
    #[arg(long)]
    http2: bool,
    /// HTTP/2 streams per connection.
    #[arg(long, default_value_t = 1)]
    streams: usize,
    /// WebSocket mode: message round trips (the server should echo).
    #[arg(long, conflicts_with_all = ["sse", "http2"])]
    ws: bool,
    /// SSE mode: hold --connections streams and measure event delivery.
    #[arg(long, conflicts_with = "http2")]
    sse: bool,
    /// WebSocket message text.
    #[arg(long)]
    ws_message: Option<String>,
    /// HTTP method.
    #[arg(short = 'X', long, default_value = "GET")]
    method: String,
    /// Weighted request template, repeatable: 'METHOD PATH [weight=N] [header=NAME:VALUE]
    /// [body-file=FILE] [body=TEXT]' (body= last, takes the rest of the line).
    #[arg(long = "request", value_name = "REQUEST", conflicts_with_all = ["method", "body", "body_file"])]
    requests_lines: Vec<RequestTemplate>,
    /// Request header "name: value", repeatable; added to every --request (theirs win).
    #[arg(short = 'H', long = "header")]
    headers: Vec<String>,
    /// Request body.
    #[arg(long, conflicts_with = "body_file")]
    body: Option<String>,
    /// Request body from a file.
    #[arg(long)]
    body_file: Option<PathBuf>,
    /// Per-request key header from a range: NAME=FROM..TO, e.g. x-user-id=1..10000.
    #[arg(long, value_parser = parse_key)]
    key: Option<KeySpec>,
    /// Count responses per value of this response header.
    #[arg(long)]
    group_by_header: Option<String>,
    /// Per-request timeout.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    timeout: Duration,
    /// CA certificate (PEM) to trust for https/wss.
    #[arg(long)]
    ca: Option<PathBuf>,
    /// Accept any server certificate.
    #[arg(long)]
    insecure: bool,
    /// TLS server name (SNI and verification) if it differs from the URL host.
    #[arg(long)]
    server_name: Option<String>,
    /// Client certificate chain (PEM) for mutual TLS; needs --key-file.
    #[arg(long, requires = "key_file")]
    cert: Option<PathBuf>,
    /// Private key (PEM) of --cert.
    #[arg(long, requires = "cert")]
    key_file: Option<PathBuf>,
    /// Local address to connect from, repeatable; connections take them in turn
    /// (e.g. --source-ip 127.0.0.2 --source-ip 127.0.0.3).
    #[arg(long = "source-ip")]
    source_ips: Vec<std::net::IpAddr>,
    /// Load the whole LoadSpec from a YAML or JSON file (`.json` or a leading `{` means JSON);
    /// every other load flag is ignored, only --json and --series still apply.
    #[arg(long)]
    spec: Option<PathBuf>,
    /// Write the JSON report here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write the per-second series here as CSV (one row per second).
    #[arg(long)]
    series: Option<PathBuf>,
    /// Generator threads, each with its own runtime (default: one per CPU).
    #[arg(long)]
    threads: Option<usize>,
}

fn parse_stage(s: &str) -> Result<Stage, String> {
    let (rates, dur) = s
        .split_once('@')
        .ok_or("expected RATE@DURATION or FROM..TO@DURATION")?;
    let duration = humantime::parse_duration(dur).map_err(|e| e.to_string())?;
    let num = |x: &str| x.trim().parse::<f64>().map_err(|e| format!("{x}: {e}"));
    let (rate, to_rate) = match rates.split_once("..") {
        Some((a, b)) => (num(a)?, Some(num(b)?)),
        None => (num(rates)?, None),
    };
    Ok(Stage {
        duration,
        rate,
        to_rate,
    })
}

fn parse_key(s: &str) -> Result<KeySpec, String> {
    let (header, range) = s.split_once('=').ok_or("expected NAME=FROM..TO")?;
    let (from, to) = range.split_once("..").ok_or("expected NAME=FROM..TO")?;
    let num = |x: &str| x.trim().parse::<u64>().map_err(|e| format!("{x}: {e}"));
    Ok(KeySpec {
        header: header.to_owned(),
        from: num(from)?,
        to: num(to)?,
    })
}

impl Cli {
    fn spec(&self) -> anyhow::Result<LoadSpec> {
        if let Some(path) = &self.spec {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            return parse_spec_file(path, &text);
        }
        let Some(url) = self.url.clone() else {
            bail!("a URL is needed unless --spec gives one");
        };
        let mut headers = BTreeMap::new();
        for h in &self.headers {
            let Some((k, v)) = h.split_once(':') else {
                bail!("header {h:?}: expected \"name: value\"")
            };
            headers.insert(k.trim().to_owned(), v.trim().to_owned());
        }
        let protocol = match (self.http2, self.ws, self.sse) {
            (_, true, _) => Protocol::Ws,
            (_, _, true) => Protocol::Sse,
            (true, _, _) => Protocol::Http2,
            _ => Protocol::Http1,
        };
        Ok(LoadSpec {
            protocol,
            duration: self.duration,
            rate: self.rate,
            stages: self.stages.clone(),
            connections: self.connections,
            streams_per_connection: self.streams,
            threads: self.threads,
            max_requests: self.requests,
            timeout: self.timeout,
            requests: self.templates(headers),
            key: self.key.clone(),
            group_by_header: self.group_by_header.clone(),
            tls: TlsSpec {
                ca_file: self.ca.clone(),
                insecure: self.insecure,
                server_name: self.server_name.clone(),
                client_cert: self.cert.clone(),
                client_key: self.key_file.clone(),
            },
            source_ips: self.source_ips.clone(),
            ws_message: self.ws_message.clone(),
            ..LoadSpec::new(url)
        })
    }

    /// The `--request` templates with the `-H` headers added, or the one `-X`/`--body` request.
    fn templates(&self, headers: BTreeMap<String, String>) -> Vec<RequestTemplate> {
        if self.requests_lines.is_empty() {
            return vec![RequestTemplate {
                method: self.method.clone(),
                headers,
                body: self.body.clone(),
                body_file: self.body_file.clone(),
                ..RequestTemplate::default()
            }];
        }
        let mut templates = self.requests_lines.clone();
        for template in &mut templates {
            for (name, value) in &headers {
                template
                    .headers
                    .entry(name.clone())
                    .or_insert_with(|| value.clone());
            }
        }
        templates
    }
}

/// Parses a LoadSpec file: JSON when it ends in `.json` or starts with `{`, else YAML.
fn parse_spec_file(path: &Path, text: &str) -> anyhow::Result<LoadSpec> {
    let json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        || text.trim_start().starts_with('{');
    let spec = if json {
        serde_json::from_str(text).map_err(anyhow::Error::from)
    } else {
        serde_saphyr::from_str(text).map_err(anyhow::Error::from)
    };
    spec.with_context(|| format!("parsing {}", path.display()))
}

/// `loadgen merge`: add up reports from several generators into one (histograms exactly).
#[derive(Debug, Parser)]
#[command(name = "loadgen merge")]
struct MergeCli {
    /// Reports written with --json (same schema version and units).
    #[arg(required = true)]
    reports: Vec<PathBuf>,
    /// Write the merged JSON report here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write the merged per-second series here as CSV.
    #[arg(long)]
    series: Option<PathBuf>,
}

fn merge_main(cli: &MergeCli) -> anyhow::Result<ExitCode> {
    let mut inputs = Vec::with_capacity(cli.reports.len());
    for path in &cli.reports {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        inputs.push((path.display().to_string(), text));
    }
    let report = match loadgen::merge::merge_json(&inputs) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("loadgen merge: {e}");
            return Ok(ExitCode::from(65));
        }
    };
    println!("{report}");
    save(&report, cli.json.as_deref(), cli.series.as_deref())?;
    Ok(ExitCode::SUCCESS)
}

fn save(
    report: &loadgen::Report,
    json: Option<&Path>,
    series: Option<&Path>,
) -> anyhow::Result<()> {
    if let Some(path) = json {
        std::fs::write(path, report.to_json())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = series {
        std::fs::write(path, report.series_csv())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let mut args = std::env::args_os();
    if std::env::args_os().nth(1).is_some_and(|a| a == "merge") {
        let argv0 = args.next();
        args.next();
        let cli = MergeCli::parse_from(argv0.into_iter().chain(args));
        return merge_main(&cli).unwrap_or_else(|e| {
            eprintln!("loadgen merge: {e:#}");
            ExitCode::FAILURE
        });
    }
    let cli = Cli::parse();
    match real_main(&cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("loadgen: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn real_main(cli: &Cli) -> anyhow::Result<ExitCode> {
    let spec = cli.spec()?;
    // The load itself runs on the library's own threads; this runtime only collects results
    // and draws progress.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("starting tokio runtime")?;
    let report = rt.block_on(async {
        let (live_tx, live_rx) = tokio::sync::mpsc::unbounded_channel();
        let expected = spec
            .stages
            .iter()
            .fold(Duration::ZERO, |total, s| total.saturating_add(s.duration))
            .max(spec.duration.unwrap_or_default());
        let progress = loadgen::progress::spawn(live_rx, Some(expected).filter(|d| !d.is_zero()));
        let options = RunOptions {
            live: Some(live_tx),
            ..RunOptions::default()
        };
        let cancel = options.cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                cancel.cancel();
            }
        });
        let report = loadgen::run(&spec, options).await;
        let _ = progress.await;
        report
    });
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            eprintln!("loadgen: invalid load spec: {e}");
            return Ok(ExitCode::from(64));
        }
    };
    println!("{report}");
    save(&report, cli.json.as_deref(), cli.series.as_deref())?;
    Ok(ExitCode::SUCCESS)
}

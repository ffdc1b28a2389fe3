//! `rampart`: parse arguments, load config, run the proxy, map errors to exit codes.

// FFI is allowed only in `allocator` (mimalloc's option setter); nothing else may be unsafe.
#![deny(unsafe_code)]

use clap::{Parser, ValueEnum};
use proxy::config::{self, ConfigSource, LogFormat};
use proxy::{Proxy, StartError};
use std::path::PathBuf;
use std::process::ExitCode;

/// mimalloc: see [`allocator`].
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Rampart reverse proxy.
#[derive(Debug, Parser)]
#[command(
    name = "rampart",
    version,
    about = "A reverse proxy that holds under failure"
)]
struct Args {
    /// The YAML config file (RAMPART_SECTION__KEY environment variables override it).
    #[arg(
        long,
        short,
        env = "RAMPART_CONFIG",
        default_value = "proxy/examples/rampart.yaml"
    )]
    config: PathBuf,
    /// Validate the config and exit: 0 when valid, 64 when not.
    #[arg(long)]
    check: bool,
    /// Log format; overrides `logging.format`.
    #[arg(long, value_enum)]
    log_format: Option<LogFormatArg>,
    /// A task other than running the proxy.
    #[command(subcommand)]
    command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Writes development certificates: ca.pem, ca-key.pem, cert.pem, key.pem (a leaf for the
    /// hosts, signed by the CA), client.pem and client-key.pem (a client certificate).
    GenCert {
        /// Comma-separated DNS names and IP addresses the leaf is valid for.
        #[arg(long, value_delimiter = ',', default_value = "localhost,127.0.0.1")]
        hosts: Vec<String>,
        /// The directory to write into (created if missing).
        #[arg(long, default_value = "certs")]
        out: PathBuf,
    },
    /// Starts a drain on a running proxy (`POST /admin/drain`); exits 0 when it is accepted.
    /// Meant as a Kubernetes `preStop` hook.
    Drain {
        /// The running proxy's admin listener, `HOST:PORT`.
        #[arg(long)]
        admin: String,
        /// Then wait until the admin listener stops answering (the drain is over).
        #[arg(long)]
        wait: bool,
        /// The longest `--wait` waits (and the connect/read timeout of the request).
        #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
        timeout: std::time::Duration,
    },
}

/// `rampart drain`: asks the proxy at `admin` to drain; with `wait`, waits for it to finish.
fn drain(admin: &str, wait: bool, timeout: std::time::Duration) -> ExitCode {
    use proxy::admin_client;
    let outcome = admin_client::resolve(admin).and_then(|addr| {
        let body = admin_client::request_drain(addr, timeout)?;
        println!("rampart: drain accepted by {addr}: {body}");
        if wait {
            admin_client::wait_until_closed(addr, timeout)?;
            println!("rampart: {addr} has drained");
        }
        Ok(())
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rampart: drain failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `rampart gen-cert`: makes and writes the development certificates.
fn gen_cert(hosts: &[String], out: &std::path::Path) -> ExitCode {
    let certs = match proxy::security::tls::dev_certs(hosts) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rampart: cannot make certificates for {hosts:?}: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    if let Err(e) = certs.write(out) {
        eprintln!("rampart: cannot write into {}: {e}", out.display());
        return ExitCode::FAILURE;
    }
    println!(
        "rampart: wrote ca.pem, ca-key.pem, cert.pem, key.pem, client.pem, client-key.pem into {}",
        out.display()
    );
    ExitCode::SUCCESS
}

/// `--log-format` values.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormatArg {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

impl From<LogFormatArg> for LogFormat {
    fn from(arg: LogFormatArg) -> Self {
        match arg {
            LogFormatArg::Pretty => LogFormat::Pretty,
            LogFormatArg::Json => LogFormat::Json,
        }
    }
}

/// Installs the global subscriber writing to stderr through the log writer thread (one write
/// per batch of lines, none lost), and in JSON hands the writer to the access log's
/// hand-written line; `RUST_LOG` overrides `level` when set. Only the binary does
/// this: the library just emits events. The returned guard writes out what is queued when it
/// drops, at the end of `main`.
fn init_logging(format: LogFormat, level: &str) -> Option<proxy::observe::LogFlush> {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi);
    let (writer, flush) = proxy::observe::LogWriter::stderr();
    if format == LogFormat::Json {
        // The access log's line is written by hand, the same as this subscriber's.
        proxy::observe::set_access_sink(writer.clone());
    }
    let builder = builder.with_writer(writer);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
    flush
}

/// Exit code for a bad config (EX_USAGE/EX_CONFIG style, as linkerd does).
const EXIT_CONFIG: u8 = 64;
/// Exit code when a listener cannot bind.
const EXIT_BIND: u8 = 69;

fn main() -> ExitCode {
    allocator::configure();
    let args = Args::parse();
    if let Some(Command::GenCert { hosts, out }) = &args.command {
        return gen_cert(hosts, out);
    }
    if let Some(Command::Drain {
        admin,
        wait,
        timeout,
    }) = &args.command
    {
        return drain(admin, *wait, *timeout);
    }
    let config = match config::load_file(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rampart: invalid config {}:\n{e}", args.config.display());
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    if args.check {
        println!("rampart: {} is valid", args.config.display());
        return ExitCode::SUCCESS;
    }
    let _log_flush = init_logging(
        args.log_format
            .map_or(config.logging.format, LogFormat::from),
        &config.logging.level,
    );
    // Workers hand freed memory back after a burst of connections; the control-plane
    // runtime's threads (admin, health checks) when they go idle, at most once a second.
    proxy::server::set_reclaim_hook(allocator::collect);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_park(allocator::collect_when_idle)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rampart: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(config, ConfigSource::File(args.config)))
}

async fn run(config: proxy::Config, source: ConfigSource) -> ExitCode {
    // Handlers first: a signal that arrives once `listening` is logged must not kill the
    // process with the default action.
    let mut signals = match signals::Signals::install() {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for signals");
            return ExitCode::FAILURE;
        }
    };
    let handle = match Proxy::start_with(config, source).await {
        Ok(h) => h,
        Err(e @ StartError::Bind { .. }) => {
            tracing::error!(error = %e, "cannot start");
            return ExitCode::from(EXIT_BIND);
        }
        Err(e @ StartError::Config(_)) => {
            tracing::error!(error = %e, "cannot start");
            return ExitCode::from(EXIT_CONFIG);
        }
        Err(e) => {
            // A worker thread or its event loop could not start: not a usage error.
            tracing::error!(error = %e, "cannot start");
            return ExitCode::FAILURE;
        }
    };
    // A signal starts the drain; so may `POST /admin/drain`, whose end is then awaited here.
    // The handlers stay installed until exit, so a second signal during the drain is caught
    // and ignored: the drain is not restarted.
    tokio::select! {
        signal = signals.wait_for_shutdown(&handle) => {
            if !handle.start_drain(signal) {
                tracing::info!(signal, "already draining");
            }
        }
        () = handle.drained() => {}
    }
    handle.shutdown().await;
    drop(signals);
    ExitCode::SUCCESS
}

/// The allocator's settings. mimalloc keeps each size class in pages of its own, so the few
/// small objects of a parked or closed connection do not pin the pages its freed hyper
/// buffers were in, as they do in glibc's heap. Freed pages are purged 10 ms after they empty
/// (mimalloc's own delay, set here explicitly: purging at once cost a `madvise` every 13
/// requests and 0.9 page faults per request under load, 3.5 µs of kernel time each request,
/// because a page emptied by one request is filled again by the next); a quiet worker's
/// [`allocator::collect`] forces the purge of what is left. Arenas are committed as they are
/// used rather than up front (eagerly committed, they are backed by transparent huge pages:
/// 17.6 MiB RSS at start instead of 11). Measured with 4,000 idle keep-alive connections:
/// glibc with `malloc_trim` 8.4 KiB per connection and RSS +22 % after they close; mimalloc
/// with these settings 2.5 KiB and +15 %.
mod allocator {
    use libmimalloc_sys::{mi_collect, mi_option_set, mi_option_t};
    use std::cell::Cell;
    use std::time::{Duration, Instant};

    /// The least time between two idle collects on one thread.
    const COLLECT_EVERY: Duration = Duration::from_secs(1);

    /// Frees the calling thread's empty and retired pages and purges them. mimalloc keeps the
    /// last page of each size class, and pages reclaimed while freeing, with the thread; one
    /// that served thousands of connections and went quiet would hold them until it allocates
    /// again (4,000 idle keep-alive connections closed: RSS +28 % of its start without this,
    /// +9 % with it on every thread).
    pub(super) fn collect() {
        // SAFETY: `mi_collect` takes no pointer; it walks the calling thread's own heap.
        #[allow(unsafe_code)]
        unsafe {
            mi_collect(true);
        }
    }

    /// [`collect`] as a runtime thread parks, at most once every [`COLLECT_EVERY`] per thread.
    pub(super) fn collect_when_idle() {
        thread_local! {
            static LAST: Cell<Option<Instant>> = const { Cell::new(None) };
        }
        let now = Instant::now();
        let due = LAST.with(|last| {
            let due = last
                .get()
                .is_none_or(|t| now.duration_since(t) >= COLLECT_EVERY);
            if due {
                last.set(Some(now));
            }
            due
        });
        if due {
            collect();
        }
    }

    /// `mi_option_arena_eager_commit` in mimalloc.h (v2, libmimalloc-sys 0.1.49 with `v2`, pinned).
    pub(super) const ARENA_EAGER_COMMIT: mi_option_t = 4;
    /// `mi_option_purge_delay` in mimalloc.h (v2, libmimalloc-sys 0.1.49 with `v2`, pinned).
    pub(super) const PURGE_DELAY: mi_option_t = 15;
    /// How long an emptied page stays committed, in ms: long enough that the next requests
    /// fill it again instead of faulting it back in, short enough to be gone before anyone
    /// reads RSS.
    pub(super) const PURGE_AFTER_MS: std::ffi::c_long = 10;

    /// Runs [`configure`] before `main` and before the first allocation (Rust's runtime
    /// allocates before `main`, and the first arena is reserved then).
    #[cfg(target_os = "linux")]
    #[used]
    #[allow(unsafe_code)]
    // SAFETY: a function pointer in `.init_array`, called once by the loader with no
    // arguments, as every ELF constructor is; `configure` touches no Rust runtime state.
    #[unsafe(link_section = ".init_array")]
    static BEFORE_MAIN: extern "C" fn() = configure;

    /// Purge freed pages after [`PURGE_AFTER_MS`]; commit arenas on demand. Idempotent: `main` calls it too
    /// (where there is no `.init_array`, that call is the one that counts).
    #[allow(unsafe_code)]
    pub(super) extern "C" fn configure() {
        // SAFETY: `mi_option_set` stores an integer in mimalloc's option table; it takes no
        // pointer and is safe to call at any time from any thread.
        unsafe {
            mi_option_set(PURGE_DELAY, PURGE_AFTER_MS);
            mi_option_set(ARENA_EAGER_COMMIT, 0);
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use libmimalloc_sys::mi_option_get;

        /// `mi_option_os_tag` and `mi_option_max_errors`, with their defaults 100 and 32.
        const OS_TAG: mi_option_t = 18;
        const MAX_ERRORS: mi_option_t = 19;

        /// This process's resident memory in KiB (`/proc/self/statm`, 4 KiB pages).
        fn rss_kib() -> usize {
            let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
            statm
                .split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<usize>().ok())
                .map_or(0, |pages| pages * 4)
        }

        #[test]
        #[cfg(target_os = "linux")]
        fn collecting_hands_back_what_a_quiet_thread_kept() {
            // As a worker does: long-lived blocks among short-lived ones of many sizes (so
            // pages fill up and are handed around), then everything freed and the thread quiet.
            let kept = std::thread::spawn(|| {
                let mut long = Vec::new();
                for round in 0..40_000usize {
                    let size = 16 + (round % 24) * 24;
                    let short: Vec<Vec<u8>> = (0..4).map(|i| vec![i as u8; size]).collect();
                    long.push(vec![1u8; size]);
                    drop(short);
                }
                drop(long);
                let before = rss_kib();
                collect();
                let after = rss_kib();
                collect_when_idle();
                collect_when_idle();
                (before, after)
            })
            .join()
            .unwrap_or_default();
            assert!(kept.1 < kept.0, "the collect handed pages back: {kept:?}");
        }

        #[test]
        #[allow(unsafe_code)]
        fn the_options_are_set_before_main_at_mimallocs_positions() {
            // SAFETY: reads mimalloc's option table.
            let read = |o| unsafe { mi_option_get(o) };
            // The constructor ran in this test binary too.
            assert_eq!(
                (read(PURGE_DELAY), read(ARENA_EAGER_COMMIT)),
                (PURGE_AFTER_MS, 0)
            );
            // The enum has not shifted: the options around ours keep their distinct defaults.
            assert_eq!((read(OS_TAG), read(MAX_ERRORS)), (100, 32));
        }
    }
}

mod signals {
    use proxy::ProxyHandle;
    use tokio::signal::unix::{Signal, SignalKind, signal};

    /// SIGHUP, SIGTERM and SIGINT, caught from the moment they are installed.
    pub(crate) struct Signals {
        hup: Signal,
        term: Signal,
        int: Signal,
    }

    impl Signals {
        /// Replaces the default actions (terminate) with handlers.
        pub(crate) fn install() -> std::io::Result<Self> {
            Ok(Self {
                hup: signal(SignalKind::hangup())?,
                term: signal(SignalKind::terminate())?,
                int: signal(SignalKind::interrupt())?,
            })
        }

        /// Reloads on SIGHUP; returns the name of the signal that asked for shutdown.
        pub(crate) async fn wait_for_shutdown(&mut self, handle: &ProxyHandle) -> &'static str {
            loop {
                tokio::select! {
                    _ = self.hup.recv() => {
                        // The outcome is logged by the reload itself.
                        let _ = handle.reload();
                    }
                    _ = self.term.recv() => return "SIGTERM",
                    _ = self.int.recv() => return "SIGINT",
                }
            }
        }
    }
}

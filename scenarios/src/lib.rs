//! Rampart's scenario runner: YAML suites that start mock backends and the proxy, drive load,
//! inject faults on a timeline and check what held — with console, JUnit, JSON and HTML reports.
//!
//! ```no_run
//! # async fn demo() -> Result<(), scenarios::SuiteError> {
//! use scenarios::{LoadedSuite, RunConfig, run_suite};
//! let suite = LoadedSuite::resolve("round-robin")?;
//! let result = run_suite(&suite, &RunConfig::default()).await;
//! println!("{}", scenarios::report::table(&[result]));
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

pub mod checks;
pub mod data;
pub mod demo;
mod error;
pub mod progress;
pub mod report;
pub mod runner;
pub mod suite;
pub mod tls;
pub mod wire;

pub use checks::{Check, CheckSpec, Outcome};
pub use data::RunData;
pub use error::SuiteError;
pub use runner::{QUICK_SCALE, RunConfig, SuiteResult, run_suite};
pub use suite::{LoadedSuite, Suite};

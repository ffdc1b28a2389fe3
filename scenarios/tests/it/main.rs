//! Crate tests for `scenarios`, compiled into one binary.

mod checks;
mod parse;
mod quick;

//! Crate tests for `scenarios`, compiled into one binary.
#![forbid(unsafe_code)]

mod chaos;
mod checks;
mod demo;
mod html;
mod parse;
mod quick;
mod reload;
mod security;
mod skip;
mod stages;

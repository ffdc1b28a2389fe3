//! End-to-end tests across the Rampart crates; the tests live in `tests/tests/`.
#![forbid(unsafe_code)]

//! mock-backends (work in progress).
#![forbid(unsafe_code)]

//! Rampart reverse proxy library (work in progress).
#![forbid(unsafe_code)]

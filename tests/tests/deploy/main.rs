//! The deployment artefacts (Dockerfile, docker-compose.yml, Kubernetes manifests, Grafana
//! dashboard) cross-checked against the real binaries, config model and metrics.
//!
//! The binaries are the workspace's own (`target/<profile>/rampart`, `loadgen`, …), which
//! `cargo nextest run --workspace` builds; see `support::bin`.

mod compose;
mod dashboard;
mod dockerfile;
mod k8s;
mod support;

# syntax=docker/dockerfile:1
# Rampart: the proxy (`rampart`) plus its harness binaries (`mock-backends`, `chaos`, `loadgen`)
# in one small image. Build: `docker build -t rampart:dev .`
# Run:   `docker run --rm -p 8080:8080 -p 9901:9901 rampart:dev`
# The config is /etc/rampart/rampart.yaml (from deploy/rampart.yaml); mount your own over it.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-slim-bookworm AS builder
WORKDIR /src
# Every workspace member's manifest is needed for cargo to load the workspace.
COPY Cargo.toml Cargo.lock ./
COPY proxy proxy
COPY mock-backends mock-backends
COPY chaos chaos
COPY loadgen loadgen
COPY scenarios scenarios
COPY tests tests
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p proxy -p mock-backends -p chaos -p loadgen \
    && mkdir -p /out \
    && cp target/release/rampart target/release/mock-backends target/release/chaos \
       target/release/loadgen /out/

FROM debian:bookworm-slim AS runtime
# curl for the HEALTHCHECK; ca-certificates for TLS to upstreams with public certificates.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 rampart \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin rampart
COPY --from=builder /out/ /usr/local/bin/
COPY deploy/rampart.yaml /etc/rampart/rampart.yaml
USER 10001:10001
# 8080: the `http` listener; 9901: the admin API (/healthz, /readyz, /metrics, /admin/*).
EXPOSE 8080 9901
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:9901/healthz"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["rampart", "--config", "/etc/rampart/rampart.yaml"]

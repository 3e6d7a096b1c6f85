# syntax=docker/dockerfile:1

# Build stage: compiles the `lms` server binary.
FROM rust:1.95-bookworm AS builder
WORKDIR /src
# sqlx macros must not look for a live database during the build.
ENV SQLX_OFFLINE=true
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin lms -p lms-platform \
    && install -m 0755 target/release/lms /usr/local/bin/lms

# Runtime stage: the binary, CA certificates for outgoing TLS, and curl for health checks.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 lms \
    && useradd --system --uid 10001 --gid lms --home-dir /var/lib/lms --create-home \
        --shell /usr/sbin/nologin lms
COPY --from=builder /usr/local/bin/lms /usr/local/bin/lms
USER lms
WORKDIR /var/lib/lms
ENV LMS_DATA_DIR=/var/lib/lms
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["curl", "-fsS", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["/usr/local/bin/lms"]
CMD ["serve", "--bind", "0.0.0.0:8080"]

# schwad: the hedging bot and the reconciler, built on a Rust image and shipped on slim Debian.
#
#   docker build --build-arg VERSION=0.1.0 --build-arg GIT_COMMIT="$(git rev-parse HEAD)" -t schwad .
#
# The base images are build arguments: where no registry can be reached, `scripts/base-images` builds
# local equivalents and prints the flags that select them (`scripts/build-image` does both).
# The cargo registry and target directory are BuildKit cache mounts, so a source-only change
# recompiles the workspace crates and nothing else.

ARG BUILDER_IMAGE=rust:1.95-slim-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${BUILDER_IMAGE} AS builder
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# The bot: native-tls links OpenSSL; SQLite is compiled in (libsqlite3-sys, bundled). The reconciler is static
# (musl; rustls with ring, whose C parts musl-gcc compiles): the droplet runs it on whatever libc its OS has.
RUN apt-get update \
 && apt-get install -y --no-install-recommends pkg-config=1.8.* libssl-dev=3.0.* musl-tools=1.2.* \
 && rm -rf /var/lib/apt/lists/*
# The official image adds the target with rustup; scripts/base-images' equivalent ships it with its toolchain.
RUN if command -v rustup >/dev/null; then rustup target add x86_64-unknown-linux-musl; fi
WORKDIR /src
# Queries are checked against the committed `.sqlx/` data, not a live database.
ENV SQLX_OFFLINE=true \
    CARGO_TERM_COLOR=never
COPY . .
# Embedded in the bot and reported by /health (option_env!("GIT_COMMIT")).
ARG GIT_COMMIT=unknown
# `release` for images that ship; CI's container checks build with `ci` (no LTO, more codegen units): faster.
ARG CARGO_PROFILE=release
RUN --mount=type=cache,id=schwad-cargo-registry,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,id=schwad-target,target=/src/target,sharing=locked \
    GIT_COMMIT="${GIT_COMMIT}" cargo build --profile "${CARGO_PROFILE}" --locked -p schwad \
 && cargo build --profile "${CARGO_PROFILE}" --locked -p reconciler --target x86_64-unknown-linux-musl \
 && install -D -m 0755 -t /out "target/${CARGO_PROFILE}/schwad" \
      "target/x86_64-unknown-linux-musl/${CARGO_PROFILE}/reconciler"

FROM ${RUNTIME_IMAGE} AS runtime
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# Upstream versions pinned, Debian revisions (security fixes) float.
# tini: PID 1 that forwards signals and reaps zombies; sqlite3: for operators (backups, inspection).
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates=20230311* libssl3=3.0.* sqlite3=3.40.* tini=0.19.* \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 1001 schwad \
 && useradd --uid 1001 --gid 1001 --home-dir /data --no-create-home --shell /usr/sbin/nologin schwad \
 && install -d -o 1001 -g 1001 -m 0750 /data
COPY --from=builder /out/ /usr/local/bin/

ENV DATABASE_URL=sqlite:/data/schwad.db \
    SERVER_PORT=8080 \
    LOG_FORMAT=json
USER 1001:1001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080

# Healthy while /health answers 200 (ok or degraded); 503 (database down) or no answer is unhealthy.
# Plain bash /dev/tcp: the image carries no HTTP client.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${SERVER_PORT} && printf 'GET /health HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && read -r _ code _ <&3 && [[ $code == 200 ]]"]

# `docker stop` sends SIGTERM to tini, which forwards it; schwad stops within SHUTDOWN_TIMEOUT (8s by
# default), well inside the stop grace period.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["schwad", "run"]

# Last, so a new commit does not invalidate the layers above.
ARG VERSION=dev
ARG GIT_COMMIT=unknown
LABEL org.opencontainers.image.title="schwad" \
      org.opencontainers.image.description="Hedging bot for Rain orderbook fills at Charles Schwab, with its GitOps reconciler" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${GIT_COMMIT}" \
      org.opencontainers.image.source="https://github.com/schwad/schwad" \
      org.opencontainers.image.licenses="MIT OR Apache-2.0"

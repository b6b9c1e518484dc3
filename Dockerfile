# schwad: the hedging bot and the reconciler, built static on a Rust image and shipped on an empty one.
#
#   docker build --build-arg VERSION=0.1.0 --build-arg GIT_COMMIT="$(git rev-parse HEAD)" -t schwad .
#
# The builder is a build argument: where no registry can be reached, `scripts/base-images` builds a local
# equivalent and prints the flags that select it (`scripts/build-image` does both).
# The cargo registry and target directory are BuildKit cache mounts, so a source-only change
# recompiles the workspace crates and nothing else.

ARG BUILDER_IMAGE=rust:1.95-slim-bookworm

FROM ${BUILDER_IMAGE} AS builder
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# Both binaries are static (musl; rustls with ring, whose C parts musl-gcc compiles, as it does the bundled
# SQLite): the image holds nothing else, and the droplet runs the reconciler on whatever libc its OS has.
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools=1.2.* \
 && rm -rf /var/lib/apt/lists/*
# The official image adds the target with rustup; scripts/base-images' equivalent ships it with its toolchain.
RUN if command -v rustup >/dev/null; then rustup target add x86_64-unknown-linux-musl; fi
WORKDIR /src
# Queries are checked against the committed `.sqlx/` data, not a live database.
ENV SQLX_OFFLINE=true \
    CARGO_TERM_COLOR=never
# The runtime's root: the app user (1001, no login), its data directory, a world-writable /tmp and the CA
# bundle, made from Mozilla's roots alone (the builder's ca-certificates, kept current by Debian's security
# updates; a builder trusting extra CAs, e.g. a TLS-inspecting proxy's, keeps those to itself).
RUN install -d -m 0755 /rootfs/etc/ssl/certs /rootfs/usr/local/bin \
 && install -d -m 1777 /rootfs/tmp \
 && install -d -o 1001 -g 1001 -m 0750 /rootfs/data \
 && printf 'root:x:0:0:root:/root:/sbin/nologin\nschwad:x:1001:1001:schwad:/data:/sbin/nologin\n' >/rootfs/etc/passwd \
 && printf 'root:x:0:\nschwad:x:1001:\n' >/rootfs/etc/group \
 && cat /usr/share/ca-certificates/mozilla/*.crt >/rootfs/etc/ssl/certs/ca-certificates.crt
COPY . .
# Embedded in the bot and reported by /health (option_env!("GIT_COMMIT")).
ARG GIT_COMMIT=unknown
# `release` for images that ship; CI's container checks build with `ci` (no LTO, more codegen units): faster.
ARG CARGO_PROFILE=release
# One build for both, so the dependencies they share compile once.
RUN --mount=type=cache,id=schwad-cargo-registry,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,id=schwad-target,target=/src/target,sharing=locked \
    GIT_COMMIT="${GIT_COMMIT}" cargo build --profile "${CARGO_PROFILE}" --locked -p schwad -p reconciler \
      --target x86_64-unknown-linux-musl \
 && install -m 0755 -t /rootfs/usr/local/bin "target/x86_64-unknown-linux-musl/${CARGO_PROFILE}/schwad" \
      "target/x86_64-unknown-linux-musl/${CARGO_PROFILE}/reconciler"

FROM scratch AS runtime
COPY --from=builder /rootfs/ /

ENV PATH=/usr/local/bin \
    DATABASE_URL=sqlite:/data/schwad.db \
    SERVER_PORT=8080 \
    LOG_FORMAT=json
USER 1001:1001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080

# Healthy while /health answers 200 (ok or degraded); 503 (database down) or no answer is unhealthy.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["schwad", "healthcheck"]

# The bot is PID 1 (no init: it starts no processes, so there are no zombies to reap): it handles SIGTERM
# itself and stops within SHUTDOWN_TIMEOUT (8s by default), well inside the stop grace period.
STOPSIGNAL SIGTERM
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

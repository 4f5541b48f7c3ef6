# paper-digest: multi-stage build, small non-root runtime image (uid:gid 10001:10001).
#   docker build -t paper-digest .
#   docker run --rm --stop-timeout 30 -v paper-digest-data:/data -e OPENAI_API_KEY paper-digest   # runs `run`
#   docker run --rm -v paper-digest-data:/data -e OPENAI_API_KEY paper-digest summarize 2409.13346
# See the README's "Container" section for Kubernetes and for bind mounts owned by root.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# The C parts (SQLite, aws-lc) build with the image's gcc; no other system packages are needed.
# Symbols are stripped from the release binary (set for both cargo steps: the profile is part of the
# dependencies' fingerprints, so the two steps must agree for the first one's work to be reused).
ENV CARGO_PROFILE_RELEASE_STRIP=symbols \
    CARGO_TERM_COLOR=never

# 1. Dependencies only, in a layer that source changes do not invalidate: the workspace manifests, the
#    lock file and empty stand-ins for the workspace's own crates. A new workspace member needs its
#    manifest copied here too. `cargo clean -p` then drops the stand-ins' artifacts, so step 2 always
#    compiles the real sources, whatever their modification times.
COPY Cargo.toml Cargo.lock ./
COPY bench/mock-llm/Cargo.toml bench/mock-llm/
RUN mkdir -p src bench/mock-llm/src \
 && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
 && echo 'fn main() {}' > bench/mock-llm/src/main.rs && touch bench/mock-llm/src/lib.rs \
 && cargo build --release --locked --bin paper-digest \
 && cargo clean --release --locked -p paper-digest \
 && rm -rf src

# 2. The project's own crate (.dockerignore keeps tests, benchmarks and docs out of this layer).
COPY . .
RUN cargo build --release --locked --bin paper-digest \
 && cp target/release/paper-digest /usr/local/bin/paper-digest

FROM debian:bookworm-slim AS runtime
# git (and openssh-client for ssh remotes) for publishing digests to a git repository;
# ca-certificates for HTTPS to the model, the paper sources and git remotes.
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates git openssh-client \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 paper-digest \
 && useradd --uid 10001 --gid 10001 --no-create-home --no-log-init --home-dir /data \
      --shell /usr/sbin/nologin paper-digest \
 && mkdir -p /data \
 && chown 10001:10001 /data
COPY --from=build /usr/local/bin/paper-digest /usr/local/bin/paper-digest
# The database and the written digests/reports live on the volume; logs are JSON lines.
ENV PAPER_DIGEST_RUN__DATABASE=/data/paper-digest.db \
    PAPER_DIGEST_RUN__OUT_DIR=/data/out \
    PAPER_DIGEST_LOG_FORMAT=json
# Numeric, so that Kubernetes can verify `runAsNonRoot` without a passwd lookup.
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
ENTRYPOINT ["paper-digest"]
CMD ["run"]

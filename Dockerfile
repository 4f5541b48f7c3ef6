# paper-digest: multi-stage build, small non-root runtime image.
#   docker build -t paper-digest .
#   docker run --rm -v paper-digest-data:/data -e OPENAI_API_KEY paper-digest        # runs `run`
#   docker run --rm -v paper-digest-data:/data -e OPENAI_API_KEY paper-digest summarize 2409.13346

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# The C parts (SQLite, aws-lc) build with the image's gcc; no other system packages are needed.
COPY . .
RUN cargo build --release --locked --bin paper-digest \
 && cp target/release/paper-digest /usr/local/bin/paper-digest

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin paper-digest \
 && mkdir -p /data \
 && chown paper-digest:paper-digest /data
COPY --from=build /usr/local/bin/paper-digest /usr/local/bin/paper-digest
# The database and the written digests/reports live on the volume; logs are JSON lines.
ENV PAPER_DIGEST_RUN__DATABASE=/data/paper-digest.db \
    PAPER_DIGEST_RUN__OUT_DIR=/data/out \
    PAPER_DIGEST_LOG_FORMAT=json
USER paper-digest
WORKDIR /data
VOLUME ["/data"]
ENTRYPOINT ["paper-digest"]
CMD ["run"]

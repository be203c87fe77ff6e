# latchkey in a container: a static binary on an empty image, running as non-root, with
# a health check (`latchkey healthcheck`). `latchkey --version` says the commit and day
# it was built from (.git is part of the build context).
#   docker build -t latchkey .
#   docker run -p 8080:8080 -v latchkey-data:/data latchkey
# The shipped auth.toml is baked in with container-friendly overrides from the
# environment (listen on all interfaces, store under /data); mount your own file at
# /etc/latchkey/auth.toml and/or set LATCHKEY_* variables to configure.

FROM rust:1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends musl-tools \
 && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY . .
RUN cargo build --release --locked --target x86_64-unknown-linux-musl \
 && install -D target/x86_64-unknown-linux-musl/release/latchkey /out/latchkey \
 && mkdir -p /out/data

FROM scratch
COPY --from=build /out/latchkey /latchkey
COPY --from=build --chown=65532:65532 /out/data /data
COPY auth.toml /etc/latchkey/auth.toml
USER 65532:65532
ENV LATCHKEY_SERVER__LISTEN=0.0.0.0:8080 \
    LATCHKEY_STORAGE__PATH=/data/latchkey.redb
VOLUME ["/data"]
EXPOSE 8080
# The image has no shell and no curl: the binary asks its own listener for /healthz.
HEALTHCHECK --interval=30s --timeout=10s --start-period=10s --retries=3 \
    CMD ["/latchkey", "--config", "/etc/latchkey/auth.toml", "healthcheck"]
ENTRYPOINT ["/latchkey", "--config", "/etc/latchkey/auth.toml"]
CMD ["serve"]

# Klaxon's container image: the binary only, run as a non-root user.
#
#   docker build -t klaxon .
#   docker run --env-file klaxon.env -v klaxon-data:/var/lib/klaxon \
#       -v "$PWD/klaxon.toml:/etc/klaxon/klaxon.toml:ro" -p 3000:3000 klaxon
#
# The database is /var/lib/klaxon/klaxon.db on the volume; tokens come from the environment
# (see README, Deployment). TLS roots are built into the binary (webpki roots), so the runtime
# image needs nothing but the C library.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p klaxon \
    && install -D target/release/klaxon /out/usr/local/bin/klaxon \
    && install -d /out/var/lib/klaxon /out/etc/klaxon

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/usr/local/bin/klaxon /usr/local/bin/klaxon
# Owned by distroless's nonroot user (65532), so a fresh named volume is writable by it.
COPY --from=build --chown=65532:65532 /out/var/lib/klaxon /var/lib/klaxon
COPY --from=build /out/etc/klaxon /etc/klaxon
ENV KLAXON_DATABASE_URL=/var/lib/klaxon/klaxon.db \
    KLAXON_HTTP_ADDR=0.0.0.0:3000 \
    KLAXON_LOG_FORMAT=json
# ./klaxon.toml (and the runbooks/ and oncall/ folders it names) are read from here when mounted.
WORKDIR /etc/klaxon
VOLUME ["/var/lib/klaxon"]
EXPOSE 3000
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/klaxon"]
CMD ["run"]

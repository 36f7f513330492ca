# The finch service image, as the stack runs it.
#
#   docker build -t finch:dev .
#
# The stack can also run a finch binary the operator already has, without any registry; this
# file is the release path.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p finch \
    && install -D -m 0755 target/release/finch /out/finch

FROM debian:bookworm-slim
# ca-certificates: for an https profiler or PostgreSQL with TLS.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/finch /usr/local/bin/finch
# finchctl writes /var/lib/finch/finch.json as root with mode 0400, so the service reads it as
# root; every listener is only published on the stack's internal network.
EXPOSE 3000 3001 3002 3003
ENTRYPOINT ["/usr/local/bin/finch"]
CMD ["run", \
     "--server.grpc-address", "0.0.0.0:3000", \
     "--server.http-address", "0.0.0.0:3001", \
     "--server.auth-address", "0.0.0.0:3002", \
     "--server.healthz-address", "0.0.0.0:3003", \
     "--stack.config-file", "/var/lib/finch/finch.json"]

# hotline: multi-stage build, small non-root runtime image.
#
#   docker build -t hotline .
#   docker run --rm -v hotline-data:/var/lib/hotline hotline tokens add admin --role admin
#   docker run -p 5060:5060/udp -p 5060:5060/tcp -p 10000-10100:10000-10100/udp \
#              -p 8080:8080 -v hotline-data:/var/lib/hotline hotline
#
# Ports: 5060/udp and 5060/tcp SIP; 10000-20000/udp RTP (narrow it with
# [media] port_min/port_max and publish the same range); 8080/tcp admin HTTP API.
#
# The admin API listens on 0.0.0.0 here, so `serve` refuses to start until the
# database holds an admin token: the first command above makes one (printed once;
# send it as `Authorization: Bearer <token>`). More tokens, with roles monitor or
# supervisor, the same way; see "Security of the admin API" in README.md.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock rust-toolchain.toml ./
COPY src ./src
COPY migrations ./migrations
COPY benches ./benches
RUN cargo build --release --locked --bin hotline

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /var/lib/hotline --create-home hotline
COPY --from=build /src/target/release/hotline /usr/local/bin/hotline
COPY ivr-flows /usr/share/hotline/ivr-flows
COPY audio /usr/share/hotline/audio
COPY migrations /usr/share/hotline/migrations
USER hotline
WORKDIR /var/lib/hotline
ENV HOTLINE_FLOWS=/usr/share/hotline/ivr-flows \
    HOTLINE_AUDIO=/usr/share/hotline/audio \
    HOTLINE_DB=sqlite:///var/lib/hotline/hotline.db \
    HOTLINE_HTTP=0.0.0.0:8080
EXPOSE 5060/udp 5060/tcp 8080/tcp 10000-20000/udp
ENTRYPOINT ["hotline"]
CMD ["serve"]

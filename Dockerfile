# Builds `inbound` from source and runs `inbound serve`.
#
#   docker build -t inbound .
#   docker run -d --name inbound -v inbound-data:/var/lib/inbound \
#     -v $PWD/inbound.toml:/etc/inbound/inbound.toml:ro -p 9735:9735 inbound
#   docker exec inbound inbound admin --config /etc/inbound/inbound.toml info
#
# The admin API listens on loopback inside the container (`docker exec` reaches it); publish it
# only with admin.listen = "0.0.0.0:9781" and admin.allow_remote = true, behind a TLS proxy.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin inbound

FROM debian:bookworm-slim
RUN useradd --system --home-dir /var/lib/inbound --create-home --shell /usr/sbin/nologin inbound
COPY --from=build /src/target/release/inbound /usr/local/bin/inbound
COPY crates/inbound/inbound.example.toml /usr/share/doc/inbound/inbound.example.toml
COPY docs/operations.md /usr/share/doc/inbound/operations.md
USER inbound
ENV INBOUND_DATA_DIR=/var/lib/inbound
VOLUME /var/lib/inbound
EXPOSE 9735
ENTRYPOINT ["inbound"]
CMD ["serve", "--config", "/etc/inbound/inbound.toml"]

# A small static image of desktag: built with musl, shipped on distroless/static as a non-root user.
#   docker build -t desktag .
#   docker run --rm -v "$PWD:/work" -w /work desktag validate desktops/
FROM rust:1-alpine AS build
RUN apk add --no-cache musl-dev
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY crates ./crates
COPY benches ./benches
COPY examples ./examples
COPY docs ./docs
COPY tests ./tests
COPY README.md LICENSE ./
RUN cargo build --release --locked --bin desktag

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /src/target/release/desktag /usr/local/bin/desktag
USER nonroot:nonroot
WORKDIR /work
ENTRYPOINT ["/usr/local/bin/desktag"]
CMD ["--help"]

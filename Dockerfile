# syntax=docker/dockerfile:1
# luagate container image: `make image` (docker build -t luagate:dev .).
#
#   docker run --rm -p 8000:8000 -v "$PWD:/kong/declarative:ro" luagate:dev
#
# serves ./kong.yml (and the .lua files it names) from Kong's path, with
# Kong's environment variables (KONG_PROXY_LISTEN, KONG_LOG_LEVEL, ...).

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# A static binary: no libc in the runtime image.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o /out/luagate ./cmd/luagate
# The default config: the commented example `luagate config init` writes.
RUN mkdir -p /out/kong/declarative && /out/luagate config init /out/kong/declarative/kong.yml \
    && /out/luagate config parse /out/kong/declarative/kong.yml

# distroless/static: CA certificates, tzdata, /etc/passwd with nonroot (65532).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/luagate /usr/local/bin/luagate
COPY --from=build --chown=65532:65532 /out/kong /kong
ENV KONG_DATABASE=off \
    KONG_DECLARATIVE_CONFIG=/kong/declarative/kong.yml \
    KONG_PROXY_LISTEN="0.0.0.0:8000 reuseport backlog=16384" \
    KONG_STATUS_LISTEN=0.0.0.0:8007 \
    KONG_ADMIN_LISTEN=127.0.0.1:8001
USER nonroot:nonroot
# proxy, Admin API (set KONG_ADMIN_LISTEN=0.0.0.0:8001 to publish it), status
EXPOSE 8000 8001 8007
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/luagate", "health"]
ENTRYPOINT ["/usr/local/bin/luagate"]
CMD ["start"]

# syntax=docker/dockerfile:1
# The tenantgen controller image: a static binary on a distroless, non-root base.
#   make docker-build IMG=registry.example.com/tenantgen:v0.1.0
#   docker build --build-arg VERSION=v0.1.0 -t tenantgen:v0.1.0 .
# Multi-arch: docker buildx build --platform linux/amd64,linux/arm64 ... (cross-compiled by Go).

FROM --platform=$BUILDPLATFORM golang:1.26 AS build
ARG TARGETOS=linux
ARG TARGETARCH
ARG VERSION=dev
WORKDIR /src
# Dependencies first, so that a source change reuses the module download layer.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY cmd/ cmd/
COPY pkg/ pkg/
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH GOFLAGS=-buildvcs=false \
    go build -trimpath \
      -ldflags "-s -w -X github.com/projectcapsule/tenantgen/pkg/version.Version=${VERSION}" \
      -o /out/tenantgen ./cmd/tenantgen

# distroless/static: no shell, no package manager, CA certificates and /etc/passwd only.
# The :nonroot tag runs as uid/gid 65532.
FROM gcr.io/distroless/static:nonroot
ARG VERSION=dev
LABEL org.opencontainers.image.title="tenantgen" \
      org.opencontainers.image.description="Capsule addon: per-tenant infrastructure from GlobalTenantResources" \
      org.opencontainers.image.source="https://github.com/projectcapsule/tenantgen" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /out/tenantgen /usr/local/bin/tenantgen
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/tenantgen"]
CMD ["controller"]

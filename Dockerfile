# syntax=docker/dockerfile:1
# Stages: sdk (the toolchain and the sources), test (every test, built only when asked for:
# `docker build --target test .`), build (the NativeAOT binary, as .ci/publish makes it), and the runtime
# image. An image build is not a test run: CI runs the tests (.ci/run) on the same sources.
#   docker build --build-arg VERSION=1.4.2 --build-arg COMMIT=$(git rev-parse HEAD) \
#                --build-arg CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ) -t sidecar-agent:1.4.2 .
# sdk:10.0 is Ubuntu 24.04 (.NET 10 ships no Debian images).
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS sdk
RUN apt-get update \
 && apt-get install -y --no-install-recommends clang zlib1g-dev python3 nodejs \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .

# The whole suite, as CI runs it (Ubuntu has no chromium package: the status page's browser test is skipped and says so).
FROM sdk AS test
# Real Redis and PostgreSQL for the TCP workload tests (PostgreSQL runs as the package's postgres user).
RUN apt-get update \
 && apt-get install -y --no-install-recommends redis-server redis-tools postgresql \
 && rm -rf /var/lib/apt/lists/*
RUN dotnet test Agent.sln

FROM sdk AS build
ARG VERSION=0.0.0-dev
ARG COMMIT=unknown
# .git is not copied (.dockerignore): the version and the commit come from the build arguments.
RUN bash .ci/publish artifacts/agent -p:Version="$VERSION" -p:SourceRevisionId="$COMMIT" \
 && ./artifacts/agent/agent --version

# Runtime: the one self-contained executable on a minimal image (no shell), as a non-root user.
FROM mcr.microsoft.com/dotnet/runtime-deps:10.0-noble-chiseled
ARG VERSION=0.0.0-dev
ARG COMMIT=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="sidecar-agent" \
      org.opencontainers.image.description="Sidecar for polyglot services: Eureka registration and discovery, Spring Cloud Config, resilient forwarding" \
      org.opencontainers.image.version="$VERSION" \
      org.opencontainers.image.revision="$COMMIT" \
      org.opencontainers.image.created="$CREATED" \
      org.opencontainers.image.base.name="mcr.microsoft.com/dotnet/runtime-deps:10.0-noble-chiseled"
COPY --from=build /src/artifacts/agent/agent /usr/local/bin/agent
USER 1654
ENV SIDECAR_DATA_DIR=/tmp/sidecar-agent
# The API binds 127.0.0.1 unless SIDECAR_BIND_ADDRESS is set: containers of the same pod reach it;
# SIDECAR_PUBLIC_HEALTH_PORT opens the health routes to kubelet probes, SIDECAR_METRICS_PORT /metrics to Prometheus.
EXPOSE 8078
# No shell in this image: the agent asks itself (SIDECAR_PORT, SIDECAR_BIND_ADDRESS), exit 0 when live.
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 CMD ["/usr/local/bin/agent", "health"]
ENTRYPOINT ["/usr/local/bin/agent"]

# syntax=docker/dockerfile:1
# Build stage: the same commands CI runs (.ci/run: every test, then .ci/publish for the NativeAOT binary).
# sdk:10.0 is Ubuntu 24.04 (.NET 10 ships no Debian images): it has no chromium package, so .ci/run
# skips the status page's browser test here and says so.
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends clang zlib1g-dev python3 nodejs \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN bash .ci/run

# Runtime stage: the one self-contained executable on a minimal image, as a non-root user.
FROM mcr.microsoft.com/dotnet/runtime-deps:10.0-noble-chiseled
COPY --from=build /src/artifacts/agent/agent /usr/local/bin/agent
USER 1654
ENV SIDECAR_DATA_DIR=/tmp/sidecar-agent
# The API binds 127.0.0.1 unless SIDECAR_BIND_ADDRESS is set: containers of the same pod reach it;
# SIDECAR_PUBLIC_HEALTH_PORT opens the health routes to kubelet probes.
EXPOSE 8078
ENTRYPOINT ["/usr/local/bin/agent"]

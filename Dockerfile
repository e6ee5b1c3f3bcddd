# syntax=docker/dockerfile:1
# Build stage: the same commands CI runs (.ci/run: every test, then .ci/publish for the NativeAOT binary).
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
EXPOSE 8078
ENTRYPOINT ["/usr/local/bin/agent"]

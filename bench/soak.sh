#!/usr/bin/env bash
# Soak: the reliability scenarios' mix (steady load through the agent, upstream, Eureka, Config
# Server and app faults in a 90 s cycle, config long-polls, fuzzed hostile requests, connection
# churn) for a given duration, sampling RSS, GC heap, open handles and threads. Not part of CI.
# Usage: bash bench/soak.sh [duration]   (default 10m; 500ms, 30s, 10m, 1h...)
# Prints the samples and the verdict; writes tests/Agent.Tests/bin/Release/net10.0/TestResults/soak.md.
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-10m}"
SOAK_DURATION="$duration" dotnet test tests/Agent.Tests -c Release --filter "Category=Soak" \
  --logger "console;verbosity=detailed" 2>&1 | grep -v -E '^\s*$|^\[xUnit.net [0-9:.]+\]   (Discover|Start|Finish)'
echo
cat tests/Agent.Tests/bin/Release/net10.0/TestResults/soak.md

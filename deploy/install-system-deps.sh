#!/usr/bin/env bash
# Install the Debian packages twinfed needs on a fresh machine: Python venv support, a
# Java 17+ JDK and Maven (the embedded Neo4j launcher), chromium (dashboard tests).
# Idempotent; needs root or sudo.
set -euo pipefail
need=()
command -v java >/dev/null || need+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null || need+=(maven)
python3 -c "import venv, ensurepip" 2>/dev/null || need+=(python3-venv)
# Debian's chromium (headless) for the dashboard's browser tests (Playwright drives it;
# Playwright's own browser downloads are never used), with fonts for readable screenshots.
command -v chromium >/dev/null || need+=(chromium fonts-dejavu-core)
if ((${#need[@]})); then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi

#!/usr/bin/env bash
# Render a `medreasoner report` HTML page in headless Chromium and save a screenshot, to check by eye
# that the tables and embedded plots display.
#   bench/render_report.sh REPORT_DIR [OUT.png]
# Needs Debian's chromium (apt-get update && apt-get install -y chromium). tests/test_report.py does
# the same check automatically and skips when chromium is absent.
set -euo pipefail
report_dir=$(cd "$1" && pwd)
out=${2:-$report_dir/screenshot.png}
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
chromium --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update \
  --disable-sync --no-first-run --user-data-dir="$profile" --window-size=1200,900 \
  --screenshot="$out" "file://$report_dir/report.html"
echo "$out"

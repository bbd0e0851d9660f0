#!/usr/bin/env bash
# Vulnerability audit of the locked dependencies (pip-audit, PyPI's vulnerability data).
# pip-audit reports "No known vulnerabilities found" even when it could not look a single package
# up (each is only listed as skipped), so: probe PyPI's per-release JSON API first, and skip with a
# printed reason when it is not reachable (a mirror or proxy without it); otherwise run with
# --strict, so a package that cannot be audited fails the step instead of passing silently.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
lock=requirements/lock.txt

probe=$(awk -F'==' '/^[a-zA-Z0-9_.-]+==/{print $1"/"$2; exit}' "$lock")
url="${PIP_AUDIT_PROBE_URL:-https://pypi.org/pypi/$probe/json}"
if ! status=$("$python" - "$url" <<'PY'
import sys, urllib.error, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=15) as response:
        print(response.status)
except urllib.error.HTTPError as error:
    print(error.code); sys.exit(1)
except OSError as error:
    print(type(error).__name__); sys.exit(1)
PY
); then
  echo "audit: SKIPPED: pip-audit's vulnerability service is not reachable from here" \
    "($url answered $status), so no package could be audited." >&2
  exit 0
fi
exec .venv/bin/pip-audit -r "$lock" --strict --progress-spinner off

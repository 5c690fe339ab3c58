#!/usr/bin/env bash
# The crate layering of docs/architecture.md §1, checked on the dependency graph (`make lint`):
# the contract does no I/O, and only the Lambda edge knows about Lambda.
set -euo pipefail
cargo=${CARGO:-cargo}
status=0

deps() { "$cargo" tree --locked -p "$1" -e normal --prefix none --format '{p}' | awk '{print $1}' | sort -u; }

forbidden=$(deps etl-contract | grep -E '^(tokio|tokio-postgres|aws-.*|lambda_runtime|hyper|rustls)$' || true)
if [ -n "$forbidden" ]; then
  echo "etl-contract must do no I/O, but depends on: $(echo $forbidden)" >&2
  status=1
fi
for stage in extract transform load etl; do
  if deps "$stage" | grep -qx 'lambda_runtime'; then
    echo "$stage depends on lambda_runtime: Lambda belongs to the etl-lambda crate only" >&2
    status=1
  fi
done
exit $status

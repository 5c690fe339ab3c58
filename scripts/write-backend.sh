#!/usr/bin/env bash
# Writes terraform/backends/<env>.hcl for the deploy workflow: state in S3 under
# totesys-etl/<env>.tfstate, locked by an S3 lock file (Terraform >= 1.10), encrypted.
# Usage: scripts/write-backend.sh ENV STATE_BUCKET REGION
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 3 ] || { echo "usage: scripts/write-backend.sh ENV STATE_BUCKET REGION" >&2; exit 2; }
env=$1 bucket=$2 region=$3
[[ $env =~ ^[a-z0-9-]{1,12}$ ]] || { echo "error: environment '$env' is not 1-12 lowercase letters, digits or dashes" >&2; exit 1; }
[ -n "$bucket" ] || { echo "error: no state bucket: set the repository variable TF_STATE_BUCKET" >&2; exit 1; }
mkdir -p terraform/backends
printf 'bucket       = "%s"\nkey          = "totesys-etl/%s.tfstate"\nregion       = "%s"\nuse_lockfile = true\nencrypt      = true\n' \
  "$bucket" "$env" "$region" >"terraform/backends/$env.hcl"

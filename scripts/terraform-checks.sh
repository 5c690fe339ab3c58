#!/usr/bin/env bash
# The deployment's checks, run by `make test` (and CI): terraform fmt and validate, the
# mocked-provider tests of the stack (terraform/tests/) and of the bootstrap stack
# (terraform/bootstrap/tests/), checkov, actionlint on the workflows, and a real
# `terraform apply` + `destroy` against moto_server on loopback.
#
# Without terraform (or without both registry access and the provider mirror at
# /opt/tf-plugins) the checks cannot run: that is reported in one line and, in CI (CI=true),
# is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
# The project's Python tools (scripts/ensure-tools.sh), also when this runs outside make.
export ETL_VENV=${ETL_VENV:-$PWD/.venv}
export PATH="$ETL_VENV/bin:$PATH"

unavailable() {
  if [ "${CI:-}" = true ]; then
    echo "error: $*" >&2
    exit 1
  fi
  echo "terraform checks NOT RUN: $* (in CI this fails)" >&2
  exit 0
}
step() { echo "== $*" >&2; }

command -v terraform >/dev/null 2>&1 || unavailable "terraform is not installed (Terraform >= 1.10)"
export TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1
if [ -d /opt/tf-plugins/registry.terraform.io/hashicorp/aws ]; then
  export TF_CLI_CONFIG_FILE="$PWD/terraform/mirror.tfrc"
fi

step "terraform fmt -check"
terraform -chdir=terraform fmt -check -recursive

step "terraform init (no backend)"
terraform -chdir=terraform init -backend=false -input=false >/tmp/etl-tf-init.log 2>&1 \
  || { cat /tmp/etl-tf-init.log >&2; unavailable "the aws provider cannot be installed: no registry access and no mirror at /opt/tf-plugins"; }

step "terraform validate"
terraform -chdir=terraform validate

step "terraform test (mock provider)"
terraform -chdir=terraform test

step "terraform/bootstrap: init, validate, test (mock provider)"
terraform -chdir=terraform/bootstrap init -backend=false -input=false >/tmp/etl-tf-bootstrap-init.log 2>&1 \
  || { cat /tmp/etl-tf-bootstrap-init.log >&2; unavailable "the aws provider cannot be installed for terraform/bootstrap"; }
terraform -chdir=terraform/bootstrap validate
terraform -chdir=terraform/bootstrap test

scripts/ensure-tools.sh checks
step "checkov"
checkov -d terraform --framework terraform --skip-download --quiet --compact

step "actionlint"
actionlint .github/workflows/*.yml

step "terraform apply against moto_server"
scripts/ensure-tools.sh moto
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
work=$(mktemp -d)
moto_server -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
moto_pid=$!
trap 'kill $moto_pid 2>/dev/null || true; rm -rf "$work"' EXIT
python3 - "$port" <<'PY'
import socket, sys, time
deadline = time.time() + 30
while True:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=0.5).close()
        break
    except OSError:
        if time.time() > deadline:
            sys.exit("moto_server did not listen within 30s")
        time.sleep(0.1)
PY
cp terraform/*.tf terraform/.terraform.lock.hcl "$work/"
cp -r terraform/sql "$work/"
# Only the provider's endpoints and the backend differ from a real deployment.
sed "s|MOTO|http://127.0.0.1:$port|" terraform/tests/moto/moto_override.tf.in >"$work/moto_override.tf"
# moto accepts PutBucketLogging but never reports the setting back, so the provider would wait
# forever for it: access logging is the one part of the deployment left out of this test.
vars=(-var "environment=moto" -var "lambda_zip_dir=$PWD/terraform/tests/fixtures/lambda"
  -var "enable_access_logging=false")
terraform -chdir="$work" init -input=false >/dev/null

# What a real account checks at creation and moto does not: Lambda refuses an on-failure queue
# the role may not send to, and a function in a VPC whose role lacks the ENI permissions.
step "creation order (terraform graph)"
terraform -chdir="$work" graph >"$work/graph.dot"
python3 - "$work/graph.dot" <<'PY'
import re, sys
edges = {}
for a, b in re.findall(r'"([^"]+)" -> "([^"]+)"', open(sys.argv[1]).read()):
    edges.setdefault(a, set()).add(b)
def reaches(a, b, seen=()):
    return b in edges.get(a, ()) or any(reaches(n, b, seen + (a,)) for n in edges.get(a, ()) if n not in seen)
needed = [
    ("aws_lambda_function_event_invoke_config.this", "aws_iam_role_policy.function", "sqs:SendMessage to the on-failure queue"),
    ("aws_lambda_function.this", "aws_iam_role_policy.function", "the function's own permissions"),
    ("aws_lambda_function.this", "aws_iam_role_policy.vpc", "the ENI permissions of a function in a VPC"),
]
missing = [f"{a} must be created after {b} ({why})" for a, b, why in needed if not reaches(a, b)]
if missing:
    sys.exit("error: " + "; ".join(missing))
print(f"{len(needed)} creation-order dependencies present", file=sys.stderr)
PY
terraform -chdir="$work" apply -auto-approve "${vars[@]}" >"$work/apply.log" 2>&1 \
  || { cat "$work/apply.log" >&2; exit 1; }
grep -E "^Apply complete" "$work/apply.log" >&2
# moto has no DeleteNamedQuery (the provider would wait for the deletion until it times out):
# the Athena named queries leave the state instead of being destroyed; they go with the server.
terraform -chdir="$work" state list | grep '^aws_athena_named_query\.' \
  | xargs -d '\n' terraform -chdir="$work" state rm >/dev/null
terraform -chdir="$work" destroy -auto-approve "${vars[@]}" >"$work/destroy.log" 2>&1 \
  || { cat "$work/destroy.log" >&2; exit 1; }
grep -E "^Destroy complete" "$work/destroy.log" >&2
echo "terraform checks passed" >&2

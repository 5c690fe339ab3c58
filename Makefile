# The README's two commands are `make demo` and `make test`; both install or start what they need.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: help demo test test-rust test-terraform lint fmt bench bench-peers bench-inbox build plan deploy destroy

SCALE ?= 1000000

# The project's Python tools (moto_server, checkov, actionlint, cargo-lambda) live in .venv,
# installed by scripts/ensure-tools.sh from the hash-pinned requirements/*.txt.
export ETL_VENV ?= $(CURDIR)/.venv
export PATH := $(ETL_VENV)/bin:$(PATH)

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

demo: ## Run the demo on a throwaway Postgres (or ETL_SOURCE_URL) and print a report
	@scripts/ensure-tools.sh postgres
	@test -x $${CARGO_TARGET_DIR:-target}/debug/etl \
	  || echo "first build of etl: a few minutes on a 2-core machine; cargo's progress follows" >&2
	$(CARGO) run --locked -p etl -- demo

test: test-rust test-terraform ## Run the full test suite: Rust (real Postgres, moto_server), then Terraform

test-rust: ## The Rust tests (a throwaway Postgres cluster unless ETL_TEST_DATABASE_URL is set)
	@scripts/ensure-tools.sh postgres moto chromium
	$(CARGO) test --workspace --locked

test-terraform: ## terraform fmt/validate/test, checkov, actionlint, apply against moto_server
	@scripts/terraform-checks.sh

lint: ## rustfmt check and clippy with warnings as errors
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	@CARGO=$(CARGO) scripts/check-layers.sh

fmt: ## Format the code
	$(CARGO) fmt --all

bench: ## Benchmark at SCALE sales orders (default 1000000); writes bench/results/<date>-scale<N>.json
	@scripts/ensure-tools.sh postgres
	$(CARGO) build --locked --profile release-local -p etl -p etl-lambda
	$${CARGO_TARGET_DIR:-target}/release-local/etl bench --scale $(SCALE)

ETL_BENCH_VENV ?= $(CURDIR)/.venv-bench

bench-peers: ## As bench, with dlt (pyarrow + ADBC) and Sling moving the same data in the same run
	@scripts/ensure-tools.sh postgres peers
	$(CARGO) build --locked --profile release-local -p etl -p etl-lambda
	$${CARGO_TARGET_DIR:-target}/release-local/etl bench --scale $(SCALE) --peers $(ETL_BENCH_VENV)

INBOX_ROWS ?= 20000000

bench-inbox: ## Load an INBOX_ROWS-row CSV (default 20000000, about 2 GB) through the inbox beside psql \copy
	@scripts/ensure-tools.sh postgres
	$(CARGO) build --locked --profile release-local -p etl
	$${CARGO_TARGET_DIR:-target}/release-local/etl bench-inbox --rows $(INBOX_ROWS)

LAMBDAS := extract transform load inbox lake

build: ## Build the Lambda zips (extract, transform, load, inbox, lake; arm64, provided.al2023): target/lambda/<name>/bootstrap.zip
	@scripts/ensure-tools.sh lambda
	$(CARGO) lambda build --release --arm64 --output-format zip --locked $(addprefix --bin ,$(LAMBDAS))
	@for f in $(LAMBDAS); do stat -c '%s %n' $${CARGO_TARGET_DIR:-target}/lambda/$$f/bootstrap.zip; done \
	  | awk '{ printf "  %-36s %6.2f MB\n", $$2, $$1 / 1048576 }'

ENV ?= dev
TF := terraform -chdir=terraform

define tf_init
	@test -f terraform/backends/$(ENV).hcl || { echo "missing terraform/backends/$(ENV).hcl: copy terraform/backends/example.hcl and name your state bucket" >&2; exit 1; }
	@test -f terraform/envs/$(ENV).tfvars || { echo "missing terraform/envs/$(ENV).tfvars: copy terraform/envs/dev.tfvars" >&2; exit 1; }
	$(TF) init -input=false -reconfigure -backend-config=backends/$(ENV).hcl
endef

plan: build ## Build the zips, then terraform plan ENV (terraform/envs/$(ENV).tfvars) into terraform/$(ENV).tfplan
	$(tf_init)
	$(TF) plan -input=false -var-file=envs/$(ENV).tfvars -out=$(ENV).tfplan

deploy: plan ## Build, plan and apply ENV (default dev); docs/deploy.md
	$(TF) apply -input=false $(ENV).tfplan

destroy: ## Destroy ENV (asks for confirmation)
	$(tf_init)
	$(TF) destroy -var-file=envs/$(ENV).tfvars

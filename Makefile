# The README's two commands are `make demo` and `make test`; both install or start what they need.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: help demo test lint fmt bench build

SCALE ?= 1000000

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

demo: ## Run the demo on a throwaway Postgres (or ETL_SOURCE_URL) and print a report
	@scripts/ensure-tools.sh postgres
	$(CARGO) run --quiet --locked -p etl -- demo

test: ## Run the full test suite (real Postgres, real moto_server)
	@scripts/ensure-tools.sh postgres moto
	$(CARGO) test --workspace --locked

lint: ## rustfmt check and clippy with warnings as errors
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

fmt: ## Format the code
	$(CARGO) fmt --all

bench: ## Benchmark at SCALE sales orders (default 1000000); writes bench/results/<date>-scale<N>.json
	@scripts/ensure-tools.sh postgres
	$(CARGO) run --quiet --locked --release -p etl -- bench --scale $(SCALE)

LAMBDAS := extract transform load

build: ## Build the three Lambda zips (arm64, provided.al2023): target/lambda/<name>/bootstrap.zip
	@scripts/ensure-tools.sh lambda
	$(CARGO) lambda build --release --arm64 --output-format zip --locked $(addprefix --bin ,$(LAMBDAS))
	@for f in $(LAMBDAS); do stat -c '%s %n' target/lambda/$$f/bootstrap.zip; done \
	  | awk '{ printf "  %-36s %6.2f MB\n", $$2, $$1 / 1048576 }'

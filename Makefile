# Endpoint Gate: the verbs a person uses. `make help` lists them.
#
# Everything the targets need beyond Rust, Python 3, Node/npm and Java 17 is
# installed into .tools/ by `make tools` (see tools.mk).

include tools.mk
include infra.mk

CARGO ?= cargo

.DEFAULT_GOAL := help
.PHONY: help test test-rust lint demo bench bench-policy bench-sweep bench-registry build watch invoke clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | column -t -s "$$(printf '\t')"

test: tools browser-tools lint ## Everything CI runs: format, lints, templates, unit, adapter and end-to-end tests
	$(MAKE) --no-print-directory validate
	$(MAKE) --no-print-directory test-localenv
	$(LOCAL_AWS) -- $(CARGO) test --workspace --locked

test-rust: tools browser-tools ## Only the Rust tests (unit + end-to-end) against the local AWS
	$(LOCAL_AWS) -- $(CARGO) test --workspace --locked

lint: ## Formatting and clippy, warnings are errors
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

demo: tools ## Tell the whole story on the local AWS: accept, review, reject
	$(LOCAL_AWS) -- $(CARGO) run --quiet --locked -p gate-e2e --bin demo

bench: bench-policy bench-sweep bench-registry ## All benchmarks

bench-policy: ## Criterion: decisions with 100k allow entries and 100k protected CIDRs
	$(CARGO) bench --locked -p gate-core --bench policy

bench-registry: tools ## Registry queries with 100,000 endpoints in DynamoDB Local
	$(LOCAL_AWS) -- $(CARGO) run --quiet --locked -p gate-e2e --bin registry-bench

bench-sweep: tools ## One sweep of 10,000 pending connections over 20 services, local AWS
	$(LOCAL_AWS) -- $(CARGO) run --quiet --locked -p gate-e2e --bin sweep-bench

build: tools ## Lambda binaries for arm64 with cargo-lambda
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(CARGO) lambda build --release --arm64 --bins -p gate-lambdas

watch: tools ## Emulated Lambda runtime on 127.0.0.1:9000 against the local AWS; see README
	$(LOCAL_AWS) -- sh -c '$(CARGO) run --quiet --locked -p gate-e2e --bin local-setup && \
	  PATH="$(CURDIR)/$(VENV)/bin:$$PATH" exec $(CARGO) lambda watch \
	  --invoke-address 127.0.0.1 --invoke-port 9000 -p gate-lambdas'

invoke: tools ## Invoke decide in `make watch` with EVENT (default: the sweep sample)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(CARGO) lambda invoke decide --invoke-address 127.0.0.1 \
	  --invoke-port 9000 --data-file $(or $(EVENT),events/decide/scheduled-sweep.json)

clean: ## Remove build output and local servers' logs (keeps .tools)
	$(CARGO) clean
	rm -rf .local

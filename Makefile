# Endpoint Gate: the verbs a person uses. `make help` lists them.
#
# Everything the targets need beyond Rust, Python 3, Node/npm and Java 17 is
# installed into .tools/ by `make tools` (see tools.mk).

include tools.mk
include infra.mk

CARGO ?= cargo

.DEFAULT_GOAL := help
.PHONY: help test test-rust lint demo bench bench-policy bench-view bench-sweep bench-sweep-lambda bench-registry bench-coldstart bench-instructions fuzz fuzz-build build watch invoke clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | column -t -s "$$(printf '\t')"

# The Rust tests run under cargo-nextest (.config/nextest.toml, profile ci:
# no retries, every failure reported, slow tests listed); nextest does not
# run doc tests, so cargo test --doc follows it.
RUST_TESTS = $(LOCAL_AWS) -- $(NEXTEST) run --workspace --locked --profile ci && \
	$(CARGO) test --doc --workspace --locked

# make test lints while it builds: clippy's driver compiles the workspace's
# own crates for the tests (RUSTC_WORKSPACE_WRAPPER, as `cargo clippy` sets
# it), so every dependency is compiled once, not checked once for clippy and
# built again for the tests. --all-features builds (and so lints) every
# target `make lint` checks but the benches, which are linted on their own.
LINTED_BUILD = RUSTC_WORKSPACE_WRAPPER="$$(rustup which clippy-driver)" RUSTFLAGS="-D warnings"
ALL_TESTS = --workspace --all-features --locked

# A run from a fresh clone builds everything once: incremental compilation's
# bookkeeping would only cost time (and disk). The fuzzers run beside the
# end-to-end tests, which mostly wait on the emulators; their output follows.
test: export CARGO_INCREMENTAL = 0
test: toolchain tools browser-tools nextest-tools ## Everything CI runs: format, lints, templates, unit, adapter and end-to-end tests
	$(CARGO) fmt --all -- --check
	$(MAKE) --no-print-directory validate
	$(MAKE) --no-print-directory test-localenv
	$(CARGO) clippy -p gate-core --benches --locked -- -D warnings
	$(LINTED_BUILD) $(CARGO) test $(ALL_TESTS) --no-run
	@mkdir -p target; \
	$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(CI_FUZZ_SECONDS) > target/fuzz-ci.log 2>&1 & fuzz=$$!; \
	$(LOCAL_AWS) -- env $(LINTED_BUILD) $(NEXTEST) run $(ALL_TESTS) --profile ci \
	  && env $(LINTED_BUILD) $(CARGO) test --doc $(ALL_TESTS); rust=$$?; \
	wait $$fuzz; fuzzed=$$?; cat target/fuzz-ci.log; \
	[ $$rust -eq 0 ] && [ $$fuzzed -eq 0 ]

test-rust: toolchain tools browser-tools nextest-tools ## Only the Rust tests (unit, end-to-end, doc) against the local AWS, with nextest
	$(RUST_TESTS)

lint: toolchain ## Formatting and clippy, warnings are errors
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --all-features --locked -- -D warnings

demo: tools ## Tell the whole story on the local AWS: accept, review, reject
	$(LOCAL_AWS) -- $(CARGO) run --quiet --locked -p gate-e2e --bin demo

bench: bench-policy bench-view bench-sweep bench-registry bench-coldstart bench-sweep-lambda ## All benchmarks

bench-policy: toolchain ## Criterion: decisions with 100k allow entries and 100k protected CIDRs
	$(CARGO) bench --locked -p gate-core --bench policy

bench-view: toolchain ## Criterion: a consumer's view of 60 endpoints, the SDK's parsing and the decoding (no network)
	$(CARGO) bench --locked -p gate-aws --bench registry_view

bench-coldstart: tools ## Every function, a Rust floor, and decide against a boto3 peer: CPU, cold start, warm latency, RSS, cost (local Runtime API)
	$(CARGO) build --quiet --locked --release -p gate-lambdas --bins
	# On its own: the example's dev-dependency features must not reach the bins.
	$(CARGO) build --quiet --locked --release -p gate-lambdas --example floor
	$(CARGO) build --quiet --locked -p gate-e2e --features local-tools --bin coldstart-setup
	$(LOCAL_AWS) -- python3 tests/bench/coldstart/bench.py --bin-dir target/release --setup target/debug/coldstart-setup

# Instruction counts move by well under 1% from run to run where CPU time
# moves by a quarter: what tells two builds apart on a shared host.
bench-instructions: tools ## Every function's instructions per cold start and warm invocation under callgrind (needs valgrind)
	$(CARGO) build --quiet --locked --release -p gate-lambdas --bins
	$(CARGO) build --quiet --locked --release -p gate-lambdas --example floor
	$(CARGO) build --quiet --locked -p gate-e2e --features local-tools --bin coldstart-setup
	$(LOCAL_AWS) -- python3 tests/bench/coldstart/bench.py --bin-dir target/release --setup target/debug/coldstart-setup \
		--warm 20 --instructions .local/bench/callgrind

SWEEP_COUNTS ?= 10000 100000
bench-sweep-lambda: tools ## decide's and record's sweeps of 10,000 and 100,000 connections in the release binaries: CPU, peak RSS, calls
	$(CARGO) build --quiet --locked --release -p gate-lambdas --bins
	$(CARGO) build --quiet --locked -p gate-e2e --features local-tools --bin coldstart-setup
	$(LOCAL_AWS) -- python3 tests/bench/coldstart/sweeps.py --bin-dir target/release --setup target/debug/coldstart-setup \
	  $(foreach n,$(SWEEP_COUNTS),--count $(n))

bench-registry: tools ## Registry queries with 100,000 endpoints in DynamoDB Local
	$(LOCAL_AWS) -- $(CARGO) run --quiet --locked -p gate-e2e --features local-tools --bin registry-bench

bench-sweep: tools ## One sweep of 10,000 pending connections over 20 services, local AWS
	$(LOCAL_AWS) -- $(CARGO) run --quiet --locked -p gate-e2e --features local-tools --bin sweep-bench

build: tools ## Lambda binaries for arm64 with cargo-lambda
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(CARGO) lambda build --release --arm64 --bins -p gate-lambdas

watch: tools ## Emulated Lambda runtime on 127.0.0.1:9000 against the local AWS; see README
	$(LOCAL_AWS) -- sh -c '$(CARGO) run --quiet --locked -p gate-e2e --features local-tools --bin local-setup && \
	  PATH="$(CURDIR)/$(VENV)/bin:$$PATH" exec $(CARGO) lambda watch \
	  --invoke-address 127.0.0.1 --invoke-port 9000 -p gate-lambdas'

FUNCTION ?= decide
event_decide := events/decide/scheduled-sweep.json
event_record := events/record/scheduled-sweep.json
event_respond := events/respond/link-tampered.json
event_lookup := events/lookup/signed-my-endpoints.json

invoke: tools ## Invoke FUNCTION (decide, record, respond, lookup) in `make watch` with EVENT (default: a sample)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(CARGO) lambda invoke $(FUNCTION) --invoke-address 127.0.0.1 \
	  --invoke-port 9000 --data-file $(or $(EVENT),$(event_$(FUNCTION)))

# Fuzzing: cargo-fuzz (libFuzzer, AddressSanitizer) on every parser of
# untrusted input, seeded from events/, examples/ and fuzz/seeds/.
# cargo-fuzz needs nightly-only flags; RUSTC_BOOTSTRAP lets the stable
# toolchain accept them for this build only.
FUZZ_SECONDS ?= 30
# make test fuzzes each target this long: a bounded run that catches regressions.
CI_FUZZ_SECONDS ?= 20
FUZZ_TARGETS := decide_event record_event slack_payload approval_link policy_file lookup_query
FUZZ_CORPUS := target/fuzz/corpus
seeds_decide_event := events/decide
seeds_record_event := events/record
seeds_policy_file := examples
seeds_slack_payload := fuzz/seeds/slack_payload
seeds_approval_link := fuzz/seeds/approval_link
seeds_lookup_query := fuzz/seeds/lookup_query

fuzz: fuzz-build ## Fuzz each parser FUZZ_SECONDS (default 30), two at a time; prints runs per target
	@$(MAKE) --no-print-directory -j2 $(addprefix fuzz-run-,$(FUZZ_TARGETS))

# Every target in one build, before the runs: two runs at once must not each
# wait for the other's build.
fuzz-build: toolchain fuzz-tools
	RUSTC_BOOTSTRAP=1 $(CARGO_FUZZ) fuzz build --fuzz-dir fuzz --target-dir target/fuzz

# One target's run: its log in target/fuzz/<target>.log, a crash's input in
# target/fuzz/artifacts/<target>/.
fuzz-run-%:
	@mkdir -p $(FUZZ_CORPUS)/$* target/fuzz/artifacts/$*
	@echo "fuzz: $* for $(FUZZ_SECONDS)s"
	@RUSTC_BOOTSTRAP=1 $(CARGO_FUZZ) fuzz run --fuzz-dir fuzz --target-dir target/fuzz $* \
	    $(FUZZ_CORPUS)/$* $(seeds_$*) -- -max_total_time=$(FUZZ_SECONDS) -max_len=16384 \
	    -artifact_prefix=target/fuzz/artifacts/$*/ > target/fuzz/$*.log 2>&1 \
	  || { tail -40 target/fuzz/$*.log; echo "fuzz: $* FAILED (crash input in target/fuzz/artifacts/$*/)"; exit 1; }
	@echo "fuzz: $* $$(grep -o 'Done [0-9]* runs in [0-9]* second(s)' target/fuzz/$*.log)"

clean: toolchain ## Remove build output and local servers' logs (keeps .tools)
	$(CARGO) clean
	rm -rf .local

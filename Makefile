# The two commands of the README: `make synth` and `make test`. Each sets up what it
# needs (.venv from the pinned requirements, the pinned CDK CLI from package-lock.json).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
ENV ?= dev

export CDK_DISABLE_CLI_TELEMETRY := true
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PIP_DISABLE_PIP_VERSION_CHECK := 1

CDK := npx --no-install cdk

.PHONY: setup synth-setup risk-setup synth pipeline-synth test risk bench update-images clean
.DEFAULT_GOAL := synth

# Three stamps: synth needs only requirements.txt (the CDK app and the constructs); the
# deploy-risk guard adds requirements-risk.txt (cfn-lint); the tests need
# requirements-dev.txt (pytest, moto, linters, torch...), which includes both. A venv that
# has more is never reinstalled by a target that needs less.
SYNTH_DEPS := $(VENV)/.synth-deps
RISK_DEPS := $(VENV)/.risk-deps
TEST_DEPS := $(VENV)/.test-deps

$(SYNTH_DEPS): requirements.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -r requirements.txt
	touch $@

$(RISK_DEPS): $(SYNTH_DEPS) requirements-risk.txt
	$(VENV)/bin/pip install --quiet -r requirements-risk.txt
	touch $@

$(TEST_DEPS): $(RISK_DEPS) requirements-dev.txt
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The pipeline's asset publisher (tools/asset-publisher): the tests publish with it.
PUBLISHER := tools/asset-publisher
$(PUBLISHER)/node_modules/.installed: $(PUBLISHER)/package.json $(PUBLISHER)/package-lock.json
	npm ci --prefix $(PUBLISHER) --no-audit --no-fund --loglevel=error
	touch $@

## Everything: synth and test dependencies, the pinned CDK CLI and the asset publisher.
setup: $(TEST_DEPS) node_modules/.installed $(PUBLISHER)/node_modules/.installed

## Only what synth and `cdk diff`/`cdk drift` need (CI's jobs against AWS).
synth-setup: $(SYNTH_DEPS) node_modules/.installed

## Only what the deploy-risk check needs (CI's deploy-risk job): synth, cfn-lint, the CLI.
risk-setup: $(RISK_DEPS) node_modules/.installed

## Synthesize config/$(ENV).yaml (default: dev) into cdk.out/. No AWS credentials needed.
synth: $(SYNTH_DEPS) node_modules/.installed
	rm -rf cdk.out  # no templates left over from another config
	$(CDK) synth --no-notices --quiet -c env=$(ENV)
	@echo "Synthesized config/$(ENV).yaml into cdk.out/: $$(ls cdk.out/*.template.json | xargs -n1 basename | tr '\n' ' ')"

## Synthesize the CDK Pipelines fleet of $(PIPELINE) (default: pipeline.yaml) into cdk.out/ and
## list its stages and steps. No AWS credentials needed.
PIPELINE ?= pipeline.yaml
pipeline-synth: $(SYNTH_DEPS) node_modules/.installed
	rm -rf cdk.out
	$(CDK) synth --no-notices --quiet -c pipeline=$(PIPELINE)
	$(VENV)/bin/python tools/pipeline_listing.py cdk.out

## Run the whole test suite (unit, template assertions, snapshots, cfn-lint, cdk-nag, CLI).
test: $(TEST_DEPS) node_modules/.installed $(PUBLISHER)/node_modules/.installed
	$(VENV)/bin/python -m pytest

## Deploy-risk guard: synthesize every config at BASE (a git ref) and here, then compare.
## `make risk BASE=origin/main [ACCEPT=endpoint-replaced,...]`; report in .risk/report.md.
## RISK_PIPELINE=pipeline.yaml (the pipeline's guard) compares that pipeline's stages as
## placed (account, region, zones, overrides) instead, and no other config.
BASE ?= origin/main
ACCEPT ?=
RISK_PIPELINE ?=
risk: $(RISK_DEPS) node_modules/.installed
	rm -rf .risk && git worktree prune && mkdir -p .risk
	git worktree add --detach .risk/base-src $(BASE)
	$(VENV)/bin/python tools/synth_all.py --out .risk/head \
		$(if $(RISK_PIPELINE),--pipeline $(RISK_PIPELINE))
	$(VENV)/bin/python tools/synth_all.py --root .risk/base-src --out .risk/base \
		$(if $(RISK_PIPELINE),--pipeline $(RISK_PIPELINE) --stages-of .risk/head)
	git worktree remove --force .risk/base-src
	$(VENV)/bin/python tools/deploy_risk.py .risk/base .risk/head --accept "$(ACCEPT)" \
		--markdown .risk/report.md

## Synth benchmark (not a test): wall time and peak memory against an empty CDK app.
bench: $(SYNTH_DEPS) node_modules/.installed
	$(VENV)/bin/python benchmarks/synth_scale.py

## Regenerate llm_constructs/data/dlc_images.json and docs/images.md from the SageMaker SDK's
## image tables (the sagemaker-core pinned in requirements-dev.txt). Read the diff.
update-images: $(TEST_DEPS)
	$(VENV)/bin/python tools/update_images.py

clean:
	rm -rf cdk.out .pytest_cache .risk

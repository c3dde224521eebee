# The two commands a new user needs: `make demo` and `make test`. Everything else is set up here.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: demo test lint typecheck pytest bench docs install system-deps clean

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "iam-gov needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(INSTALLED): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $@

install: $(INSTALLED)

## demo: install, then collect, correlate and evaluate the demo company into a fresh SQLite store
## (samples/demo/iam-gov.toml names it: .demo/iam-gov.db) with its drift report in
## .demo/reports, show the dry-run deprovisioning plan
## of the demo's leaver, and launch a quarterly access review
demo: install
	@rm -rf .demo && mkdir -p .demo
	@echo "The main job: collect, evaluate, write the drift report (exit 1: the first run has no"
	@echo "baseline, so every open high finding is new and a scheduler would alert)"
	env -u IAM_GOV_DATABASE_URL -u IAM_GOV_CONFIG $(VENV)/bin/iam-gov --config samples/demo/iam-gov.toml run || test $$? -eq 1
	@echo
	@echo "Erik Reyes left on 2026-09-29 and still has access: the dry-run plan that removes it"
	@echo "(exit 1: the demo's exports cannot be changed, so those steps are listed to do by hand)"
	env -u IAM_GOV_DATABASE_URL -u IAM_GOV_CONFIG $(VENV)/bin/iam-gov --config samples/demo/iam-gov.toml deprovision erik.reyes@example.com --reason "left on 2026-09-29" || test $$? -eq 1
	@echo
	env -u IAM_GOV_DATABASE_URL -u IAM_GOV_CONFIG $(VENV)/bin/iam-gov --config samples/demo/iam-gov.toml campaign create --file samples/demo/campaign-q4.yaml --launch
	@echo
	@echo "Review it as Mira Bauer, Sales Director (a manager with her team's access to certify):"
	@echo "       IAM_GOV_REVIEWER=mira.bauer@example.com $(VENV)/bin/iam-gov --config samples/demo/iam-gov.toml review 1"
	@echo
	@echo "The drift report (open it in a browser): .demo/reports/latest/drift.html"
	@echo
	@echo "Next:  $(VENV)/bin/iam-gov --config samples/demo/iam-gov.toml findings --severity high"
	@echo "       $(VENV)/bin/iam-gov --config samples/demo/iam-gov.toml explain erik.reyes@example.com"
	@echo "       $(VENV)/bin/iam-gov --config samples/demo/iam-gov.toml findings --format csv > findings.csv"
	@echo "       $(VENV)/bin/iam-gov --config samples/demo/iam-gov.toml audit verify"

## test: ruff, mypy, then the whole suite on SQLite and on a throwaway PostgreSQL
test: install system-deps lint typecheck pytest

system-deps:
	@.ci/install-system-packages

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(PY) .ci/typecheck

pytest: install system-deps
	$(VENV)/bin/pytest -n 2 -m 'not slow' $(PYTEST_ARGS)

## docs: regenerate the generated parts of README.md (the rule catalogue) from the code
docs: install
	$(PY) .ci/docs

## bench: scale runs on generated companies and local servers; prints the figures
bench: install system-deps
	$(PY) -m pip install --quiet -e '.[test,bench]'
	$(PY) benchmarks/scale.py --companies-dir .bench/companies
	$(PY) benchmarks/store_snapshots.py --people 100000 --repeat 1
	$(PY) benchmarks/evaluation.py --work .bench/evaluation
	$(PY) benchmarks/campaign_launch.py --work .bench/evaluation
	$(PY) benchmarks/tui_review.py
	$(PY) benchmarks/aws_analysis.py
	$(PY) benchmarks/aws_organization.py
	$(VENV)/bin/pytest -q -m slow tests/connectors/aws/test_organization_export.py
	$(PY) benchmarks/okta_listing.py
	$(PY) benchmarks/audit_tampering.py
	$(PY) benchmarks/fuzz_parsers.py
	$(PY) benchmarks/fuzz_exports.py
	$(PY) benchmarks/okta_rate_limited_collect.py
	$(PY) benchmarks/okta_incremental.py
	$(PY) benchmarks/entra_incremental.py
	$(PY) benchmarks/ldap_incremental.py
	$(PY) benchmarks/reviewer_load.py
	$(PY) benchmarks/crash_runs.py --runs 200

clean:
	rm -rf $(VENV) .demo build *.egg-info .pytest_cache .mypy_cache .ruff_cache

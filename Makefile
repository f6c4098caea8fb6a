# AI Spark — two commands: `make run` serves the API, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
FERRETDB := .build/ferretdb-embedded

.PHONY: install run test pytest smoke fuzz bench lint format ferretdb clean

# The C speedups (setup.py) are rebuilt when a source changes.
NATIVE_SOURCES := $(wildcard shared/*.[ch] features/*/*.[ch] features/*/*/*.[ch])

$(INSTALLED): pyproject.toml setup.py $(NATIVE_SOURCES)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(INSTALLED)

install: $(INSTALLED)

$(FERRETDB): $(wildcard tools/ferretdb/*) tools/embedded_mongo.py | $(INSTALLED)
	$(BIN)/python -m tools.embedded_mongo build --force

ferretdb: $(FERRETDB)

# Embedded database (unless MONGODB_URL is set), demo asset, Fabric stub (unless FABRIC_API_URL is set),
# then the API on http://$${HOST:-127.0.0.1}:$${PORT:-8000} in the foreground. Ctrl-C stops it all.
run: $(INSTALLED)
	$(BIN)/python -m tools.dev_stack

test: pytest smoke

pytest: $(INSTALLED) $(FERRETDB)
	$(BIN)/python -m pytest

# Every tests/smoke/*.sh but helpers named _*.sh (sourced by the scripts, not tests themselves).
smoke: $(INSTALLED) $(FERRETDB)
	@set -e; for script in tests/smoke/*.sh; do \
		case "$${script##*/}" in _*) continue;; esac; \
		[ -e "$$script" ] || continue; echo "== $$script"; bash "$$script"; done

fuzz: $(INSTALLED) $(FERRETDB)
	bash tests/fuzz/run_schemathesis.sh

bench: $(INSTALLED) $(FERRETDB)
	$(BIN)/python -m bench.jobs_bench
	$(BIN)/python -m bench.api_bench
	$(BIN)/python -m bench.export_bench
	$(BIN)/python -m bench.media_bench
	$(BIN)/python -m bench.console_bench
	$(BIN)/python -m bench.job_queries_bench
	$(BIN)/python -m bench.catalog_read_bench --gc settle

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(INSTALLED)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf .build .pytest_cache .ruff_cache .hypothesis

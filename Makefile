# Two commands on a fresh machine with Python 3.11: `make run` and `make test`.
# uv is installed into .uv/ when it is not already on PATH; .venv is created from uv.lock.

PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo .uv/bin/uv)
VENV := .venv
SHOPML := $(VENV)/bin/shopml
export MLFLOW_DISABLE_TELEMETRY := true
export BENTOML_DO_NOT_TRACK := true
export UV_PYTHON_DOWNLOADS := never

.PHONY: run test env lint bench bento clean

# the demo shop only when the data home holds no tables: data from `shopml data load` is kept
run: env
	$(SHOPML) data generate --if-missing
	$(SHOPML) features build
	$(SHOPML) train all --if-missing
	$(SHOPML) models list
	$(SHOPML) serve

test: env
	$(VENV)/bin/python -m pytest -n 2 --dist loadfile -q

env: $(VENV)/.synced

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen
	@touch $@

.uv/bin/uv:
	$(PYTHON) -m venv .uv
	.uv/bin/pip install --quiet uv

lint: env
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/mypy

bench: env
	for script in bench/*.py; do $(VENV)/bin/python $$script || exit 1; done

bento: env
	mkdir -p build
	$(UV) export --frozen --no-dev --no-hashes --no-emit-project --quiet -o build/bento-requirements.txt
	PATH="$(CURDIR)/.uv/bin:$$PATH" $(VENV)/bin/bentoml build

clean:
	rm -rf $(VENV) .uv .pytest_cache

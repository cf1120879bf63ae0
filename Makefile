# qiskit-argo: `make run` runs an example job locally; `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
JOB ?= examples/bell.yaml

.PHONY: install run test generate check-generated lint bench lock clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[dev]'
	touch $(STAMP)

run: install
	$(VENV)/bin/qiskit-argo run $(JOB)

test: install
	$(PY) -m pytest

generate: install
	$(PY) -m qiskit_argo.generate

check-generated: install
	$(PY) -m qiskit_argo.generate --check

lint: install
	$(VENV)/bin/ruff check qiskit_argo controller tests bench
	$(VENV)/bin/mypy qiskit_argo controller/qiskit_argo_controller

bench: install
	$(PY) bench/run.py
	$(PY) bench/controller_latency.py
	$(PY) bench/ibm_fake.py
	$(PY) bench/schedule_catalogue.py
	$(PY) bench/shards.py
	$(PY) bench/gpu.py

# Refresh the pinned versions after changing pyproject.toml's dependencies.
lock: install
	$(PY) -m pip freeze --exclude-editable | grep -v '^qiskit-argo' > requirements.lock

clean:
	rm -rf $(VENV) results bench/out .pytest_cache .mypy_cache .ruff_cache

include Makefile.images

# The two commands a fresh machine needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
DEMO_CASE ?= demo-case

.PHONY: demo test lint format images bench clean system-deps

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $(STAMP)

system-deps:
	@bash scripts/system-deps.sh

demo: system-deps $(STAMP)
	rm -rf $(DEMO_CASE)
	SOURCE_DATE_EPOCH=$${SOURCE_DATE_EPOCH:-1767225600} $(PY) -m vmforensics scan \
	  testdata/images/ios-encrypted \
	  --case $(DEMO_CASE) --examiner "Demo Examiner" --case-id DEMO-001 \
	  --password-file testdata/images/ios-encrypted.password

test: system-deps $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

images: $(STAMP)
	$(PY) testdata/images/build.py testdata/images

bench: $(STAMP)
	$(PY) bench/carving.py

clean:
	rm -rf $(VENV) $(DEMO_CASE) .pytest_cache

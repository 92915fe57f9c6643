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
	rm -rf $(DEMO_CASE) $(DEMO_CASE)-bags $(DEMO_CASE)-key*
	$(PY) -m vmforensics scan testdata/images/ios-encrypted \
	  --case $(DEMO_CASE) --examiner "Demo Examiner" --case-id DEMO-001 \
	  --password-file testdata/images/ios-encrypted.password
	@echo "--- sealing the case for legal (demo key and passphrase from testdata/) ---"
	$(PY) -m vmforensics keygen --out $(DEMO_CASE)-key --passphrase-file testdata/demo.passphrase
	$(PY) -m vmforensics seal --case $(DEMO_CASE) --key $(DEMO_CASE)-key \
	  --passphrase-file testdata/demo.passphrase --out $(DEMO_CASE)-bags
	$(PY) -m vmforensics verify $(DEMO_CASE)-bags/DEMO-001_S1 --signer $(DEMO_CASE)-key.pub

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
	rm -rf $(VENV) $(DEMO_CASE) $(DEMO_CASE)-bags $(DEMO_CASE)-key* .pytest_cache

# flowbox developer commands. `make run` and `make test` set themselves up on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench conformance clean binary bench-binary

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/flowbox serve

test: $(STAMP)
	$(BIN)/ruff check src nodes ui tests bench
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src nodes ui tests bench

bench: $(STAMP)
	$(BIN)/python bench/engine.py

clean:
	rm -rf $(VENV) build *.egg-info

# the one-file binary dist/flowbox (PyInstaller comes with the test extra); ~2 minutes
binary: $(STAMP)
	$(BIN)/pyinstaller flowbox.spec --noconfirm

bench-binary: binary
	$(BIN)/python bench/binary.py dist/flowbox

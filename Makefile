# flowbox developer commands. `make run` and `make test` set themselves up on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench conformance clean binary bench-binary

# pip's and setuptools' chatter goes to .venv/install.log (shown only when the install fails)
$(STAMP): pyproject.toml
	@echo "Setting up $(VENV) (first run only, a few minutes; log in $(VENV)/install.log)..."
	@$(PY) -m venv $(VENV)
	@$(BIN)/pip install -q --upgrade pip > $(VENV)/install.log 2>&1 || { cat $(VENV)/install.log; exit 1; }
	@$(BIN)/pip install -q -e '.[test]' >> $(VENV)/install.log 2>&1 || { cat $(VENV)/install.log; exit 1; }
	@touch $(STAMP)
	@echo "Set up $(VENV)."

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

# Two commands do all the set-up: `make run` and `make test`.
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON ?= python3
# Extras installed with the package; CI adds pm4py, which reads the event-log exports back.
EXTRAS ?= test

.PHONY: run test lint bench loadtest screenshots clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[$(EXTRAS)]'
	touch $@

run: $(VENV)/.installed
	$(BIN)/tirkeu init --demo
	$(BIN)/tirkeu serve --host 127.0.0.1 --port 8000

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/bandit -q -r webapp service_tasks

# Each test file runs whole on one worker: the corpus tests end with a summary of the file's runs.
test: lint
	$(BIN)/pytest -q -n auto --dist loadfile

bench: $(VENV)/.installed
	$(BIN)/python -m bench

# Not part of `make test`: needs PostgreSQL (TIRKEU_LOADTEST_DATABASE) and a few minutes.
loadtest: $(VENV)/.installed
	$(BIN)/python -m bench.loadtest --database "$${TIRKEU_LOADTEST_DATABASE:-postgresql+psycopg://postgres@127.0.0.1:5432/tirkeu_load}" $(LOADTEST_ARGS)

# The README's pictures: the browser tests save the pages they drive into docs/screenshots,
# the tour of every role's pages in English, Kazakh and Russian (NAME-en.png, -kk, -ru).
screenshots: $(VENV)/.installed
	TIRKEU_SCREENSHOT_DIR=docs/screenshots $(BIN)/pytest -q -m browser \
	  tests/browser/test_widths.py tests/browser/test_process_owner.py

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache

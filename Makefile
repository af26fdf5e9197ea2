# CityOps Twin: `make demo` and `make test` are the whole quick start.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench screenshots clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[cn,test]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/cityops demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

test: lint
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	@for f in tests/bench/[a-z]*.py; do \
		$(BIN)/python -m tests.bench.$$(basename $$f .py) || exit 1; \
	done

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info

screenshots: $(STAMP)
	$(BIN)/python -m tests.screenshots --out screenshots

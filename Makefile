# Jol: `make run` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LOCALES := app/i18n/locales
POT := app/i18n/messages.pot
MO := $(patsubst %.po,%.mo,$(wildcard $(LOCALES)/*/LC_MESSAGES/messages.po))

.PHONY: run test setup migrate content-check content-load i18n-extract i18n-update i18n-compile \
        lint bench chat clean

# Install into .venv when pyproject.toml changed (or the venv is new).
$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

$(LOCALES)/%/LC_MESSAGES/messages.mo: $(LOCALES)/%/LC_MESSAGES/messages.po $(BIN)/.installed
	$(BIN)/pybabel compile --statistics -D messages -i $< -o $@

setup: $(BIN)/.installed $(MO)

migrate: setup
	$(BIN)/jol db upgrade

content-check: setup
	$(BIN)/jol content check

content-load: migrate
	$(BIN)/jol content load

run: content-load
	$(BIN)/jol serve

chat: content-load
	$(BIN)/jol chat --lang ky

test: setup
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# UI strings (not content): extract from the code, merge into each catalog, compile.
i18n-extract: setup
	$(BIN)/pybabel extract --no-location --sort-output -k _ -k plural:1,2 -o $(POT) app

i18n-update: i18n-extract
	$(BIN)/pybabel update --no-fuzzy-matching -D messages -i $(POT) -d $(LOCALES)

i18n-compile: setup
	$(BIN)/pybabel compile --statistics -D messages -d $(LOCALES)

lint: setup
	$(BIN)/ruff check app bot tests bench
	$(BIN)/mypy

bench: content-load
	$(BIN)/python bench/run.py
	$(BIN)/python bench/qa_bench.py
	$(BIN)/python bench/bot_bench.py

clean:
	rm -rf $(VENV) data .pytest_cache .hypothesis

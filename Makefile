# webcare — two commands do all the set-up on a fresh machine:
#   make demo   install, train the demo models, start webcare (web console + web chat on 127.0.0.1)
#   make test   install with the test and [hf] extras, then run the whole test suite
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo chat run test install install-test browser bench clean help

help:
	@grep -E '^[a-z-]+:.*## ' Makefile | sed 's/:.*## /\t/'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(STAMP)-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[hf,test]'
	touch $(STAMP) $@

install: $(STAMP) ## create .venv and install webcare

demo: $(STAMP) ## train the demo models and start webcare on the embedded default
	$(BIN)/webcare nlu train
	$(BIN)/webcare run

chat: $(STAMP) ## chat with the bot in this terminal
	$(BIN)/webcare chat

browser: ## install Debian's chromium + chromium-driver for the browser tests (when root and missing)
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; } || \
	  echo "chromium not installed: the browser tests will be skipped"

test: $(STAMP)-test browser ## run the tests
	$(BIN)/python -m pytest -q -p no:cacheprovider

bench: $(STAMP)-test ## run the benchmarks (see BENCHMARKS.md)
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .webcare build *.egg-info

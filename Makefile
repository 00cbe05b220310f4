# newsqa: `make run` serves the chat on http://127.0.0.1:7860, `make test` checks everything.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False
export GRADIO_ANALYTICS_ENABLED := False

.PHONY: setup run index test test-fast lint eval calibrate bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

index: setup
	$(PY) -m index

run: setup
	$(PY) app.py

lint: setup
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports

test: lint
	$(PY) -m pytest

test-fast: lint
	$(PY) -m pytest -m "not e2e"

# make eval's held-out runs: over the evaluation news corpus, or the seed articles
ON_NEWS := --articles eval_questions/corpus --index-dir build/index-eval_questions_corpus \
	--compare --withhold
ON_SEED := --articles articles --index-dir build/index-articles --compare --withhold

eval: setup
	$(PY) -m qa.eval eval_questions/seed.jsonl eval_questions/conversations.jsonl --compare \
		--report docs/eval-report.html
	$(PY) -m qa.eval eval_questions/news.jsonl --articles tests/data/news.jsonl --compare
	$(PY) -m qa.eval eval_questions/reader-seed-dev.jsonl eval_questions/reader-seed-holdout.jsonl $(ON_SEED)
	$(PY) -m qa.eval eval_questions/reader-news-dev.jsonl eval_questions/reader-news-holdout.jsonl $(ON_NEWS)
	$(PY) -m qa.eval eval_questions/reader-seed-holdout-c.jsonl $(ON_SEED)
	$(PY) -m qa.eval eval_questions/reader-news-holdout-c.jsonl $(ON_NEWS)
	$(PY) -m qa.eval eval_questions/reader-news-dev-b.jsonl eval_questions/reader-news-holdout-d.jsonl $(ON_NEWS)
	$(PY) -m qa.eval eval_questions/reader-seed-holdout-d.jsonl $(ON_SEED)
	$(PY) -m qa.eval eval_questions/reader-news-holdout-e.jsonl $(ON_NEWS)
	$(PY) -m qa.eval eval_questions/reader-seed-holdout-e.jsonl $(ON_SEED)
	$(PY) -m qa.eval eval_questions/reader-news-holdout-f.jsonl $(ON_NEWS)
	$(PY) -m qa.eval eval_questions/reader-seed-holdout-f.jsonl $(ON_SEED)
	$(PY) -m qa.eval eval_questions/reader-news-holdout-g.jsonl $(ON_NEWS)
	$(PY) -m qa.eval eval_questions/reader-seed-holdout-g.jsonl $(ON_SEED)
	$(PY) -m qa.eval eval_questions/reader-news-holdout-h.jsonl $(ON_NEWS)
	$(PY) -m qa.eval eval_questions/reader-seed-holdout-h.jsonl $(ON_SEED)
	$(PY) -m qa.eval eval_questions/reader-news-holdout-i.jsonl $(ON_NEWS)
	$(PY) -m qa.eval eval_questions/reader-seed-holdout-i.jsonl $(ON_SEED)
	$(PY) -m qa.eval eval_questions/reader-news-holdout-j.jsonl $(ON_NEWS)
	$(PY) -m qa.eval eval_questions/reader-news-holdout-k.jsonl $(ON_NEWS)
	$(PY) -m qa.eval eval_questions/reader-seed-holdout-k.jsonl $(ON_SEED)

# the reader's abstention threshold, set on the calibration questions only (writes its card)
calibrate: setup
	$(PY) -m qa.calibrate eval_questions/reader-seed-dev.jsonl:articles \
		eval_questions/reader-news-dev.jsonl:eval_questions/corpus \
		eval_questions/reader-news-dev-b.jsonl:eval_questions/corpus

bench: setup
	$(PY) -m bench.run

clean:
	rm -rf .index .pytest_cache .ruff_cache

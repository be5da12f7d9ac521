# WearView: the two commands a newcomer needs are `make demo` and `make test`.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.requirements-installed

.PHONY: demo test lint venv web worker gpu-worker beat clean

demo: $(STAMP)
	$(BIN)/python manage.py demo --auto-approve

test: $(STAMP) lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

venv: $(STAMP)

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

# The production processes, one per terminal (see the README).
web: $(STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/gunicorn wearview.wsgi --bind 127.0.0.1:8000 --workers 2

worker: $(STAMP)
	$(BIN)/celery -A wearview worker -Q default,publish --loglevel INFO

gpu-worker: $(STAMP)
	$(BIN)/celery -A wearview worker -Q gpu -I wearview.engine.tasks --concurrency 1 \
		--prefetch-multiplier 1 --loglevel INFO

beat: $(STAMP)
	$(BIN)/celery -A wearview beat --loglevel INFO

clean:
	rm -rf var .pytest_cache .ruff_cache

# cuishou — the two commands a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Python 3.12 (Django 6.1 needs it): PATH first, then pyenv's interpreters.
PY312 ?= $(shell for p in $$(ls -d $$(pyenv root 2>/dev/null || echo $$HOME/.pyenv)/versions/3.12*/bin/python3.12 2>/dev/null | sort -V -r) $$(command -v python3.12) /usr/bin/python3.12 /usr/local/bin/python3.12; do \
	  "$$p" -c 'import sys; assert sys.version_info[:2] == (3, 12)' >/dev/null 2>&1 && { echo "$$p"; break; }; done)
VENV := .venv
UV := $(PY312) -m uv
CUISHOU := $(VENV)/bin/cuishou
PG_URL ?= postgres://postgres@127.0.0.1:5432/cuishou
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 2
QUEUE ?= default

.PHONY: help install system-deps run test test-pg test-redis lint typecheck check messages services \
	workers rq-workers bench clean

help:
	@echo "make run      install, migrate, load the demo portfolio when empty, serve http://$(HOST):$(PORT)"
	@echo "make test     install and run the whole test suite (SQLite)"
	@echo "make test-pg  the same suite against PostgreSQL ($(PG_URL))"
	@echo "make test-redis  the batch run's RQ workers over Redis, on PostgreSQL (fails without Redis)"
	@echo "make workers  $(WORKERS) task workers on this database (django-tasks-db) for \`cuishou batch --shards N\`"
	@echo "make rq-workers  $(WORKERS) RQ workers over Redis (run the batch with CUISHOU_TASKS=rq)"
	@echo "make check    ruff, mypy, django checks, missing migrations"

$(VENV)/.installed: pyproject.toml uv.lock
	@test -n "$(PY312)" || { echo "Python 3.12 not found (install it or set PY312=/path/to/python3.12)" >&2; exit 1; }
	@$(PY312) -m uv --version >/dev/null 2>&1 || $(PY312) -m pip install --quiet uv
	UV_PYTHON=$(PY312) $(UV) sync --frozen --python $(PY312)
	@touch $@

install: $(VENV)/.installed

# Debian packages the product needs: Chromium for the browser tests, Noto CJK for documents.
system-deps:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	fc-list 2>/dev/null | grep -qi 'Noto Sans CJK' || missing="$$missing fonts-noto-cjk"; \
	command -v msgfmt >/dev/null 2>&1 || missing="$$missing gettext"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

# PostgreSQL and Redis (the RQ task workers' queue) on this machine; started when not running.
services:
	@pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || { \
	  ls /etc/postgresql/*/main >/dev/null 2>&1 || { \
	    echo "PostgreSQL is not running on 127.0.0.1:5432 and not installed here (apt-get install postgresql)" >&2; exit 1; }; \
	  echo "starting PostgreSQL"; \
	  pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | sort -V | tail -n 1) main start; \
	  for i in $$(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done; }
	@(exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null || { \
	  command -v redis-server >/dev/null 2>&1 || { \
	    echo "installing Debian package: redis-server"; \
	    if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq redis-server >/dev/null; }; \
	  echo "starting Redis"; \
	  redis-server --bind 127.0.0.1 --port 6379 --daemonize yes --save '' --appendonly no >/dev/null; \
	  for i in $$(seq 1 30); do (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null && break; sleep 1; done; }

run: install system-deps
	$(CUISHOU) compilemessages --ignore=.venv -v 0
	$(CUISHOU) migrate --no-input -v 0
	$(CUISHOU) demo --if-empty --no-serve --address $(HOST):$(PORT)
	$(CUISHOU) runserver $(HOST):$(PORT)

test: install system-deps
	$(CUISHOU) compilemessages --ignore=.venv -v 0
	$(VENV)/bin/pytest -q

test-pg: install system-deps services
	$(CUISHOU) compilemessages --ignore=.venv -v 0
	DATABASE_URL=$(PG_URL) $(VENV)/bin/pytest -q

# The nightly batch's shards on two RQ workers over the real Redis, against PostgreSQL;
# CUISHOU_REDIS_REQUIRED turns the "Redis is not reachable" skip into a failure.
test-redis: install services
	DATABASE_URL=$(PG_URL) CUISHOU_REDIS_REQUIRED=1 $(VENV)/bin/pytest -q -rs tests/engine/test_batch_processes.py -k rq

# Task workers for `cuishou batch --shards N`, in the foreground (Ctrl-C stops them).
# The database backend is the default; QUEUE=... and WORKERS=... as needed.
workers: install
	@echo "$(WORKERS) database task workers on queue $(QUEUE); Ctrl-C stops them"
	@trap 'kill $$(jobs -p) 2>/dev/null' INT TERM; \
	for i in $$(seq 1 $(WORKERS)); do \
	  CUISHOU_TASKS=db CUISHOU_TASKS_QUEUE=$(QUEUE) $(CUISHOU) db_worker --queue-name $(QUEUE) --no-reload & \
	done; wait

rq-workers: install services
	@echo "$(WORKERS) RQ workers on queue $(QUEUE); run the batch with CUISHOU_TASKS=rq; Ctrl-C stops them"
	@trap 'kill $$(jobs -p) 2>/dev/null' INT TERM; \
	for i in $$(seq 1 $(WORKERS)); do \
	  CUISHOU_TASKS=rq CUISHOU_TASKS_QUEUE=$(QUEUE) $(CUISHOU) rqworker --job-class django_tasks_rq.Job $(QUEUE) & \
	done; wait

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy

check: lint typecheck
	$(CUISHOU) check
	$(CUISHOU) makemigrations --check --dry-run

# Re-extract the catalogues after changing strings; English copies each msgid (msgen).
messages: install
	cd src/cuishou && ../../$(CUISHOU) makemessages -l zh_Hans -l en --no-obsolete --add-location file -v 0
	msgfilter --keep-header --no-wrap -i src/cuishou/locale/en/LC_MESSAGES/django.po sed -e d \
	  | msgen --no-wrap -o src/cuishou/locale/en/LC_MESSAGES/django.po -

bench: install
	$(VENV)/bin/python bench/import_portfolio.py

clean:
	rm -rf $(VENV) var/*.sqlite3

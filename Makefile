# The two commands of the README: `make demo` and `make test`. Both set themselves up.
.PHONY: demo test lint bench check-env

demo:
	@scripts/bootstrap.sh demo
	@.venv/bin/python scripts/demo.py

test:
	@scripts/bootstrap.sh test
	@.venv/bin/ruff check .
	@.venv/bin/python -m pytest

lint:
	@.venv/bin/ruff check . && .venv/bin/ruff format --check .

bench:
	@scripts/bootstrap.sh test
	@.venv/bin/python bench/run.py

# The two everyday commands. Both set up what they need (venv, PostGIS) on a Debian machine.
.PHONY: demo test lint bench

demo:  ## venv + PostGIS + the Yanchi-scale demo county, then the dashboards on :8501
	scripts/bootstrap.sh demo

test:  ## venv + test tools + PostGIS, then the whole test suite (fresh database per run)
	scripts/bootstrap.sh test

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

bench:  ## every benchmark, each printing its table
	.venv/bin/python -m benchmarks

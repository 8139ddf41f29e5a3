# Thin aliases for tasks.py, which needs nothing but Python 3.11+.
PYTHON ?= python3

.PHONY: demo test bench
demo:
	$(PYTHON) tasks.py demo
test:
	$(PYTHON) tasks.py test
bench:
	$(PYTHON) tasks.py bench

"""The browser tests' fixtures (`browser`, `page`, `shot`) live in tests/conftest.py so that any
test folder can use them with one Playwright instance. Run them with `pytest -m e2e`."""

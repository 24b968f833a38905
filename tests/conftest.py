import os

# Tests see one CPU device unless a test starts its own process with more.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

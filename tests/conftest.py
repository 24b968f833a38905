import os

# Tests see one CPU device unless a test starts its own process with more.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

# The same XLA:CPU settings main.py uses (run/xla_flags.py), so tests exercise what users run;
# subprocesses started by tests inherit them through the environment.
from run import xla_flags  # noqa: E402

xla_flags.apply()

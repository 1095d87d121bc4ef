"""The floors of the architecture: the runtime is plain Python and knows no product part."""

import subprocess
import sys


def test_importing_the_runtime_does_not_load_flask_or_the_connectors():
    code = (
        "import sys, webapp.runtime.engine, webapp.runtime.specs; "
        "print(sorted(m for m in ('flask', 'service_tasks', 'webapp.web') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"

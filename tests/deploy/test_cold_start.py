"""A handler module's cold start: it imports the framework and our code, and the heavy dependencies only
when a request needs them (or, with SnapStart, before the snapshot)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from functions.core.settings import settings_env_names
from tests.deploy.test_serverless_package import _functions, _module_name

REPO = Path(__file__).resolve().parents[2]
# What a route imports on its first request: drivers, token verification, HTTP, schema checks, PDFs.
HEAVY = (
    "psycopg",
    "psycopg_pool",
    "jwt",
    "cryptography",
    "httpx",
    "jsonschema",
    "pypdf",
    "PIL",
    "openai",
    "boto3",
    "botocore",
)
HANDLER_MODULES = sorted(
    f"functions.{path.stem}" for path in (REPO / "functions").glob("*.py") if path.name != "__init__.py"
)

# Imports the handler as the Lambda runtime does, then runs the SnapStart hooks it registered the way
# the runtime runs them (snapshot_restore_py's registry), and reports what was loaded at each point.
CHILD = """
import importlib, json, sys
heavy = set(sys.argv[2:])
loaded = lambda: sorted(heavy & {name.split(".")[0] for name in sys.modules})
importlib.import_module(sys.argv[1])
at_import = loaded()
import snapshot_restore_py
before = snapshot_restore_py.get_before_snapshot()
after = snapshot_restore_py.get_after_restore()
for hook, args, kwargs in before:
    hook(*args, **kwargs)
print(json.dumps({
    "at_import": at_import,
    "before_snapshot": [f"{hook.__module__}.{hook.__qualname__}" for hook, _, _ in before],
    "after_restore": [f"{hook.__module__}.{hook.__qualname__}" for hook, _, _ in after],
    "after_before_snapshot": loaded(),
}))
"""


def _import_in_a_fresh_interpreter(module: str) -> dict[str, list[str]]:
    env = {key: value for key, value in os.environ.items() if key not in settings_env_names()}
    env.update(
        {
            "APP_MODE": "cloud",
            # Nothing listens there: a handler must not reach the database before its first request.
            "DATABASE_URL": "postgresql://coldstart@127.0.0.1:9/none",
            "SUPABASE_JWT_SECRET": "cold-start-test-secret-of-forty-characters",
        }
    )
    done = subprocess.run(
        [sys.executable, "-c", CHILD, module, *HEAVY],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, list[str]] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


@pytest.mark.parametrize("module", HANDLER_MODULES)
def test_a_handler_module_imports_no_heavy_dependency_before_its_first_request(module: str) -> None:
    assert _import_in_a_fresh_interpreter(module)["at_import"] == []


def _snapstart_functions() -> list[str]:
    return sorted(name for name, function in _functions().items() if function.get("snapStart"))


def test_the_http_api_functions_start_from_a_snapshot() -> None:
    assert _snapstart_functions() == ["avatars", "insights", "knowledge", "sessions"]


@pytest.mark.parametrize("name", _snapstart_functions())
def test_a_snapstart_handler_registers_its_hooks_and_preloads_before_the_snapshot(name: str) -> None:
    report = _import_in_a_fresh_interpreter(_module_name(_functions()[name]["handler"]))
    assert report["before_snapshot"] == ["functions.core.snapstart.before_snapshot"]
    assert report["after_restore"] == ["functions.core.snapstart.after_restore"]
    # The snapshot holds what the first request would otherwise import.
    assert {"psycopg", "psycopg_pool", "jwt", "httpx"} <= set(report["after_before_snapshot"])

"""A handler module's cold start: it imports the framework and our code, and the heavy dependencies only
when a request needs them (or, with SnapStart, before the snapshot)."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from functions.core.settings import settings_env_names
from tests.deploy.test_serverless_package import _functions, _mangum_functions, _module_name

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
# What each HTTP function's routes do not import before they run, by handler module: the logic behind
# its routes (imported by the route when it first runs, or held by the SnapStart snapshot), and other
# functions' routes.
OFF_THE_COLD_PATH = {
    "functions.avatars": (
        "functions.core.api.routes.health",
        "functions.core.client_config",
        "functions.core.sessions.lifecycle",
        "functions.core.speech.tts",
        "functions.core.tools.contacts",
        "functions.core.tools.definitions",
        "functions.core.turns.models",
        "functions.core.widget",
    ),
    "functions.tools": (
        "functions.core.api.routes.health",
        "functions.core.api_key_management",
        "functions.core.avatar_basics",
        "functions.core.avatars",
        "functions.core.sessions.lifecycle",
        "functions.core.tools.outbound",
        "functions.core.tools.runtime",
        "functions.core.turns.models",
        "functions.core.widget",
    ),
    "functions.sessions": (
        "functions.core.avatars",
        "functions.core.turns.models",
        "functions.core.speech.tts",
        "functions.core.text.sentences",
        "functions.core.auth.api_keys",
        "functions.core.tools.runtime",
    ),
    "functions.insights": (
        "functions.core.api.routes.health",
        "functions.core.avatars",
        "functions.core.insights.report",
        "functions.core.insights.unanswered",
        "functions.core.knowledge.indexing",
        "functions.core.llm.offline",
        "functions.core.providers.avatar.registry",
        "functions.core.sessions.models",
        "functions.core.turns.models",
    ),
    "functions.knowledge": (
        "functions.core.api.routes.health",
        "functions.core.avatar_basics",
        "functions.core.avatars",
        "functions.core.knowledge.html_text",
        "functions.core.knowledge.indexing",
        "functions.core.llm.embeddings",
        "functions.core.text.chunking",
        "functions.core.sessions.models",
    ),
    "functions.stream": (
        "functions.core.avatars",
        "functions.core.client_config",
        "functions.core.llm.offline",
        "functions.core.providers.avatar.registry",
        "functions.core.sessions.lifecycle",
        "functions.core.sessions.models",
        "functions.core.text.chunking",
        "functions.core.tools.conversation",
        "functions.core.tools.definitions",
        "functions.core.tools.runtime",
        "functions.core.widget",
    ),
}
HANDLER_MODULES = sorted(
    f"functions.{path.stem}" for path in (REPO / "functions").glob("*.py") if path.name != "__init__.py"
)

# Imports the handler as the Lambda runtime does, then runs the SnapStart hooks it registered the way
# the runtime runs them (snapshot_restore_py's registry), and reports what was loaded at each point.
CHILD = """
import gc, importlib, json, sys
heavy = set(sys.argv[2:])
loaded = lambda: sorted(heavy & {name.split(".")[0] for name in sys.modules})
frozen_before = gc.get_freeze_count()
importlib.import_module(sys.argv[1])
at_import = loaded()
modules_at_import = sorted(sys.modules)
collector = {"enabled": gc.isenabled(), "frozen": gc.get_freeze_count() - frozen_before}
import snapshot_restore_py
before = snapshot_restore_py.get_before_snapshot()
after = snapshot_restore_py.get_after_restore()
for hook, args, kwargs in before:
    hook(*args, **kwargs)
print(json.dumps({
    "at_import": at_import,
    "modules_at_import": modules_at_import,
    "collector": collector,
    "before_snapshot": [f"{hook.__module__}.{hook.__qualname__}" for hook, _, _ in before],
    "after_restore": [f"{hook.__module__}.{hook.__qualname__}" for hook, _, _ in after],
    "preloaded": [name for _, _, kwargs in before for name in kwargs.get("modules", ())],
    "after_before_snapshot": loaded(),
    "modules_after_before_snapshot": sorted(sys.modules),
}))
"""


def _import_in_a_fresh_interpreter(module: str) -> dict[str, Any]:
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
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


@pytest.mark.parametrize("module", HANDLER_MODULES)
def test_a_handler_module_imports_no_heavy_dependency_before_its_first_request(module: str) -> None:
    assert _import_in_a_fresh_interpreter(module)["at_import"] == []


@pytest.mark.parametrize("module", HANDLER_MODULES)
def test_a_handler_module_imports_only_what_its_own_routes_need_before_they_run(module: str) -> None:
    imported = set(_import_in_a_fresh_interpreter(module)["modules_at_import"])
    assert imported & set(OFF_THE_COLD_PATH.get(module, ())) == set()


@pytest.mark.parametrize("module", [*sorted(OFF_THE_COLD_PATH), "functions.stream"])
def test_an_http_handler_builds_its_app_without_collections_and_freezes_it(module: str) -> None:
    """The init pauses the cyclic collector (functions/core/api/init.py): it is on again once the handler
    is imported, and what the init made is frozen, so no later collection walks it."""
    collector = _import_in_a_fresh_interpreter(module)["collector"]
    assert collector["enabled"] is True
    # The modules, classes and routes of the init: tens of thousands of objects.
    assert collector["frozen"] > 10_000


def test_the_modules_kept_off_the_cold_path_exist() -> None:
    """A module renamed or moved would pass the test above for the wrong reason."""
    for name in {name for names in OFF_THE_COLD_PATH.values() for name in names}:
        assert importlib.util.find_spec(name) is not None, name


def _snapstart_functions() -> list[str]:
    return sorted(name for name, function in _functions().items() if function.get("snapStart"))


def _runtime_hooked_functions() -> list[str]:
    """The SnapStart functions that the Python runtime runs (not the Web Adapter), with its hooks."""
    return [name for name in _snapstart_functions() if name in _mangum_functions()]


def test_the_http_api_functions_and_the_streaming_one_start_from_a_snapshot() -> None:
    assert _snapstart_functions() == ["avatars", "insights", "knowledge", "sessions", "stream", "tools"]


def test_the_streaming_snapshot_preloads_what_its_routes_import_on_first_use() -> None:
    import functions.stream

    assert set(functions.stream.SNAPSHOT_PRELOAD) <= set(OFF_THE_COLD_PATH["functions.stream"])


@pytest.mark.parametrize("name", _runtime_hooked_functions())
def test_a_snapstart_handler_registers_its_hooks_and_preloads_before_the_snapshot(name: str) -> None:
    report = _import_in_a_fresh_interpreter(_module_name(_functions()[name]["handler"]))
    assert report["before_snapshot"] == ["functions.core.snapstart.before_snapshot"]
    assert report["after_restore"] == ["functions.core.snapstart.after_restore"]
    # The snapshot holds what the first request would otherwise import: drivers, and the modules behind
    # the function's own routes.
    assert {"psycopg", "psycopg_pool", "jwt", "httpx"} <= set(report["after_before_snapshot"])
    preloaded = set(report["preloaded"])
    assert preloaded & set(report["modules_at_import"]) == set()
    assert preloaded <= set(report["modules_after_before_snapshot"])

"""Start-up: what a fresh interpreter imports for ``import taskbridge``, for the names a
program uses, and for the CLI's ``--help`` and ``--version``.

Module sets only, never timings (bench/bench_startup.py measures those). Each case runs
in a subprocess, since this test process has imported everything already.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import orjson
import pytest

import taskbridge

# Prints the modules loaded after the snippet ran, as the last line of stderr.
_REPORT = "\nimport json as _j, sys as _s\n_s.stderr.write('\\n' + _j.dumps(sorted(_s.modules)))\n"

# Runs the console script's `main` (project.scripts: taskbridge = taskbridge.cli:main).
_CLI = textwrap.dedent(
    """
    import sys
    from taskbridge.cli import main
    try:
        main(sys.argv[1:])
    except SystemExit as exc:
        assert exc.code in (0, None), exc.code
    """
)

HEAVY = ("aiohttp", "redis", "opentelemetry", "click", "rich", "cattrs", "msgspec")


def loaded(code: str, *args: str) -> tuple[set[str], str]:
    """The modules a fresh interpreter holds after running ``code`` (and its stdout)."""
    run = subprocess.run(
        [sys.executable, "-c", code + _REPORT, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    return set(orjson.loads(run.stderr.splitlines()[-1])), run.stdout


def under(modules: set[str], *packages: str) -> set[str]:
    """The modules of ``modules`` that are one of ``packages`` or inside one."""
    return {m for m in modules if any(m == p or m.startswith(p + ".") for p in packages)}


def test_import_taskbridge_imports_only_the_version() -> None:
    modules, _ = loaded("import taskbridge")
    assert under(modules, "taskbridge") == {"taskbridge", "taskbridge._version"}
    assert under(modules, *HEAVY, "attr", "attrs", "yarl", "multidict") == set()


def test_the_client_loads_no_cli_redis_otel_sandbox_or_testing_helpers() -> None:
    modules, _ = loaded("from taskbridge import TaskBridge, SyncTaskBridge\nTaskBridge.from_env")
    assert "aiohttp" in modules  # it does load the client
    assert under(modules, "redis", "opentelemetry", "click", "rich") == set()
    assert (
        under(
            modules,
            "taskbridge.sandbox",
            "taskbridge.cli",
            "taskbridge.testing",
            "taskbridge.otel",
            "taskbridge.redis",
            "taskbridge.pytest_plugin",
        )
        == set()
    )


_DECODING = ("cattrs", "msgspec", "taskbridge._decode.convert", "taskbridge._decode.mirror")


def test_the_client_class_builds_no_decoders_until_a_bridge_uses_a_provider() -> None:
    modules, _ = loaded("from taskbridge import TaskBridge, CakewalkConfig, AlumioConfig")
    assert under(modules, *_DECODING) == set()
    assert {m for m in modules if m.endswith(("._models", "._converter", "._adapter"))} == set()


def test_a_bridge_builds_the_decoders_of_its_providers_only() -> None:
    code = textwrap.dedent(
        """
        from taskbridge import TaskBridge, CakewalkConfig
        TaskBridge(cakewalk=CakewalkConfig("k" * 40, "s" * 40))
        """
    )
    modules, _ = loaded(code)
    assert {"cattrs", "taskbridge.providers.cakewalk._converter"} <= modules
    assert under(modules, "taskbridge.providers.alumio") <= {
        "taskbridge.providers.alumio",
        "taskbridge.providers.alumio._config",
    }


def test_a_bridge_loads_the_wait_watch_and_stream_modules_at_their_first_use() -> None:
    code = textwrap.dedent(
        """
        import sys
        from taskbridge import TaskBridge, CakewalkConfig
        bridge = TaskBridge(cakewalk=CakewalkConfig("k" * 40, "s" * 40))
        view = bridge.with_options(timeout=5.0)
        wait_and_stream = ("taskbridge._facade.watch", "taskbridge._facade.stream")
        loaded = [m for m in sys.modules if m.startswith(wait_and_stream)]
        assert not loaded, loaded
        bridge.stream([])
        assert "taskbridge._facade.stream" in sys.modules
        assert "taskbridge._facade.watch" not in sys.modules
        view.watch([])
        assert "taskbridge._facade.watch.scheduler" in sys.modules
        """
    )
    loaded(code)


def test_a_provider_package_names_load_on_first_use() -> None:
    code = textwrap.dedent(
        """
        import sys
        import taskbridge.providers.alumio as alumio
        assert "taskbridge.providers.alumio._models" not in sys.modules
        assert "AlumioTask" in dir(alumio) and "SPEC" in dir(alumio)
        from taskbridge.providers.alumio import AlumioTask, encode_identifier
        assert AlumioTask.__module__ == "taskbridge.providers.alumio._models"
        assert alumio.encode_identifier is encode_identifier
        try:
            alumio.NoSuchName
        except AttributeError as exc:
            assert "NoSuchName" in str(exc), exc
        else:
            raise AssertionError("no AttributeError")
        """
    )
    loaded(code)


def test_the_errors_and_models_load_without_the_http_client() -> None:
    modules, _ = loaded("from taskbridge import TaskBridgeError, TaskRef, TaskStatus, Limits")
    assert under(modules, "aiohttp", "taskbridge._facade", "taskbridge._engine") == set()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--help"], "Usage: "),
        (["-h"], "Usage: "),
        (["--version"], f"taskbridge {taskbridge.__version__}"),
        (["sandbox", "--help"], "--rate-limit-per-minute"),
        (["get", "--help"], "Usage: "),
        (["get-many", "--help"], "Usage: "),
        (["wait", "--help"], "Usage: "),
        (["watch", "--help"], "Usage: "),
        (["demo", "--help"], "Usage: "),
        (["webhooks", "--help"], "Usage: "),
        (["webhooks", "listen", "--help"], "--public-key"),
    ],
)
def test_cli_help_and_version_do_not_import_aiohttp(args: list[str], expected: str) -> None:
    modules, stdout = loaded(_CLI, *args)
    assert expected in stdout
    assert "click" in modules  # it did run the command line
    assert under(modules, "aiohttp", "redis", "opentelemetry") == set()
    assert under(modules, "taskbridge.sandbox", "taskbridge._facade", "taskbridge._engine") == set()
    assert under(modules, "taskbridge.webhooks", "cryptography") == set()


@pytest.mark.parametrize("name", taskbridge.__all__)
def test_each_public_name_loads_alone_in_a_fresh_interpreter(name: str) -> None:
    code = textwrap.dedent(
        f"""
        import importlib, taskbridge
        from taskbridge import {name} as value
        assert "{name}" in dir(taskbridge)
        assert getattr(taskbridge, "{name}") is value
        if hasattr(value, "__module__") and "{name}" != "__version__":
            assert getattr(importlib.import_module(value.__module__), "{name}") is value
        """
    )
    loaded(code)


def test_dir_lists_every_public_name_before_any_is_loaded() -> None:
    code = "import taskbridge\nassert set(taskbridge.__all__) <= set(dir(taskbridge))"
    modules, _ = loaded(code)
    assert "taskbridge._base" not in modules


def test_an_unknown_name_is_an_attribute_error_and_an_import_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'NoSuchName'"):
        _ = taskbridge.NoSuchName  # type: ignore[attr-defined]
    with pytest.raises(ImportError, match="NoSuchName"):
        exec("from taskbridge import NoSuchName", {})


def test_the_lazy_names_are_the_defining_objects() -> None:
    from taskbridge._facade.bridge import TaskBridge
    from taskbridge._facade.sync import SyncTaskBridge

    assert taskbridge.TaskBridge is TaskBridge
    assert taskbridge.SyncTaskBridge is SyncTaskBridge

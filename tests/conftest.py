import os
import shutil
import sys
import tempfile

import pytest

from tests.helpers import Synth, synthesize

# Write bytecode even where the environment says not to (PYTHONDONTWRITEBYTECODE=1 on the
# shared machines): otherwise each process, both xdist workers and every `python app.py` the
# CLI tests start, compiles the project and pytest rewrites the test modules' asserts anew,
# about 3 s of CPU per process. The caches are __pycache__ folders, ignored by git; Python
# and pytest check them against the source's mtime and size.
sys.dont_write_bytecode = False

# Synth must never need AWS credentials: make sure none leak in from the environment.
for _var in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
    os.environ.pop(_var, None)
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("CDK_DISABLE_CLI_TELEMETRY", "true")


def pytest_configure(config: pytest.Config) -> None:
    """One temporary folder for the whole run, removed when it ends. Every synth leaves a
    cloud assembly (about 5 MB), every CDK CLI and jsii process its own files: thousands of
    folders a day on a shared machine. The xdist workers, the CLI and the app subprocesses
    inherit TMPDIR from this process (the controller, or the only one without -n)."""
    if hasattr(config, "workerinput"):
        return  # a worker: its TMPDIR is the controller's folder
    root = tempfile.mkdtemp(prefix="llm-tests-")
    config.stash[RUN_TMP] = root
    os.environ["TMPDIR"] = root
    tempfile.tempdir = root  # gettempdir() may have read TMPDIR already


def pytest_unconfigure(config: pytest.Config) -> None:
    root = config.stash.get(RUN_TMP, None)
    if root is not None:
        shutil.rmtree(root, ignore_errors=True)


RUN_TMP = pytest.StashKey[str]()
SHIPPED = ("dev", "prod", "seed-async", "seed-containers", "seed-components", "backends")


@pytest.fixture(scope="session")
def dev() -> Synth:
    return synthesize("dev")


@pytest.fixture(scope="session")
def prod() -> Synth:
    return synthesize("prod")


@pytest.fixture(scope="session", params=SHIPPED)
def shipped(request) -> Synth:
    return synthesize(request.param)


#: Every endpoint stack of the shipped configs: (config, endpoint name).
ENDPOINT_STACKS = [("dev", "chat"), ("dev", "batch"), ("prod", "chat"),
                   ("seed-async", "flan-t5-xxl"), ("seed-containers", "dlc"),
                   ("seed-containers", "custom"), ("seed-containers", "serverless"),
                   ("seed-components", "llama3"), ("seed-components", "lora"), ("backends", "vllm"),
                   ("backends", "lmi")]


@pytest.fixture(scope="session", params=ENDPOINT_STACKS, ids=lambda p: f"{p[0]}:{p[1]}")
def endpoint_template(request) -> dict:
    config, name = request.param
    return synthesize(config).endpoint(name)


#: The modules that take longest (about 5-13 s of one worker each: subprocesses, moto
#: worlds, cfn-lint, many synths), longest first: with --dist loadscope a module is one unit
#: of work, and a long one started last leaves the other worker idle at the end. pytest.ini
#: passes --no-loadscope-reorder, or xdist would order the modules by their number of tests.
#: Measured with -n 2 (tests/ and examples/, November 2026); the rest follow in file order.
SLOW_FIRST = ("test_pipeline.py", "test_lint_and_nag.py", "test_workflow.py",
              "test_async_runtime.py", "test_cli.py", "test_text_generation_container.py",
              "test_engine_options.py", "test_client_cli.py", "test_packaging.py",
              "test_invoker_faults.py", "test_quota_check.py", "test_property.py",
              "test_image_table.py", "test_async.py", "test_modes.py", "test_client_batch.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return SLOW_FIRST.index(name) if name in SLOW_FIRST else len(SLOW_FIRST)
    items.sort(key=rank)  # stable: the order within a module and among the rest is kept


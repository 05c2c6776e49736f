"""Issue 7: CloudFormation's limits hold at 50 endpoints (one stack per endpoint)."""

from __future__ import annotations

import json

from benchmarks.synth_scale import config_with
from tests.conftest import SHIPPED as SHIPPED_CONFIGS
from tests.helpers import synthesize, synthesize_data

MAX_BODY = 1024 * 1024   # bytes, template body from S3
MAX_RESOURCES = 500      # per stack


def _sizes(synth) -> list[tuple[str, int, int]]:
    return [(name, len(json.dumps(t)), len(t["Resources"])) for name, t in synth.templates.items()]


def test_no_stack_grows_with_the_number_of_endpoints():
    """Why 50 endpoints fit: each endpoint is a stack of its own and the shared network
    stack does not change with their number. Three endpoints show both (the 50-endpoint
    synth, 51 stacks, is in ``benchmarks/synth_scale.py --limits 50``: about 10 s of CPU, too
    much for a property that three endpoints already show). Sizes only: every endpoint is
    dev.yaml's real-time endpoint, whose template cfn-lint checks (test_lint_and_nag)."""
    synth = synthesize_data(config_with(3), nag=False, validation=False)
    one = synthesize_data(config_with(1), nag=False, validation=False)
    sizes = _sizes(synth)
    assert len(sizes) == 4  # network + one stack per endpoint
    assert synth.network == one.network
    ((_, body, count),) = [s for s in _sizes(one) if "-endpoint-" in s[0]]
    for name, b, r in sizes:
        if "-endpoint-" in name:  # the same stack, but for its names
            assert r == count and abs(b - body) < 200, (name, b, body)
    assert body < MAX_BODY / 10 and count < MAX_RESOURCES / 10


def test_every_shipped_stack_is_far_from_the_limits():
    for name in SHIPPED_CONFIGS:
        for stack, body, count in _sizes(synthesize(name)):
            assert body < MAX_BODY / 4 and count < MAX_RESOURCES / 4, (stack, body, count)

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


def test_fifty_endpoints_fit_cloudformations_limits():
    # Sizes only: every endpoint is dev.yaml's real-time endpoint, whose template cfn-lint
    # checks (test_lint_and_nag), so CDK's built-in validation would check it 50 times more.
    synth = synthesize_data(config_with(50), nag=False, validation=False)
    sizes = _sizes(synth)
    assert len(sizes) == 51  # network + one stack per endpoint
    assert max(b for _, b, _ in sizes) < MAX_BODY / 10
    assert max(r for _, _, r in sizes) < MAX_RESOURCES / 10
    # no stack grows with the number of endpoints: the network stack is the same as with one
    one = synthesize_data(config_with(1), nag=False, validation=False)
    assert synth.network == one.network


def test_every_shipped_stack_is_far_from_the_limits():
    for name in SHIPPED_CONFIGS:
        for stack, body, count in _sizes(synthesize(name)):
            assert body < MAX_BODY / 4 and count < MAX_RESOURCES / 4, (stack, body, count)

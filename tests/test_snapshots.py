"""Template snapshots: any change to a synthesized template shows up as a diff in review.
Update with `.venv/bin/python -m pytest tests/test_snapshots.py --snapshot-update` after
reading the diff."""

from __future__ import annotations

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from tests.conftest import SHIPPED
from tests.helpers import synthesize


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("config", SHIPPED)
def test_templates_match_snapshots(config, snapshot_json):
    synth = synthesize(config)
    assert synth.templates == snapshot_json

"""The serving backends, one record each (``record.Backend``).

Adding a backend is one record here plus its image data (its name, versions and
registries) in ``llm_constructs/data/dlc_images.json`` and its engine's options per version
in ``config/data/engine_options.json`` (``tools/aws_facts/engine_options.py``): the
config's image union and its error text, the version errors, ``ModelSpec.backend``, the
serving rules and the container environment all follow from the records.
"""

from __future__ import annotations

from .engines import LMI, SGLANG, VLLM
from .record import Backend, Problem, Rule, environment
from .tgi import TGI

#: Every serving backend, in the order the config's messages list them.
BACKENDS: tuple[Backend, ...] = (TGI, VLLM, SGLANG, LMI)


__all__ = ["BACKENDS", "LMI", "SGLANG", "TGI", "VLLM", "Backend", "Problem", "Rule",
           "environment"]

"""The record of one serving backend, and the CDK-free mapping of a model's settings to the
variables its container reads.

Everything the config knows about a backend is in its record: the config key, the image
table it uses, the variable each ``serving`` field maps to (a field it lacks is absent), how
it spells a boolean, the dtypes and quantizations it accepts, and its own rules. The image
union, the version errors, ``ModelSpec.backend``, the serving rules and the container
environment are derived from the records (``config/backends/__init__.py`` lists them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from llm_constructs import images

if TYPE_CHECKING:
    from config.shapes import ModelSpec, Serving

#: ``(path, message)``: one config problem.
Problem = tuple[str, str]
#: A rule of one backend: ``(path of the model, the model)`` -> its problems.
Rule = Callable[[str, "ModelSpec"], list[Problem]]
#: Extra variables a backend derives from its own settings block (TGI's ``tgi_settings``).
SettingsMapping = Callable[["ModelSpec"], dict[str, str]]

#: ``serving`` fields with a plain value (written as the number the config holds).
NUMERIC_FIELDS = ("max_model_len", "max_input_tokens", "max_concurrent_sequences")


@dataclass(frozen=True)
class Backend:
    """One serving backend: what the config derives for it, and what it checks."""

    #: The config key: ``image: {<key>: <version>}``.
    key: str
    #: The entry of ``llm_constructs/data/dlc_images.json`` with its versions and registries.
    image_key: str
    #: ``model`` (the Hub id or local path) and each ``serving`` field it reads -> its
    #: variable. A ``serving`` field missing here is one the backend lacks (a config error).
    variables: Mapping[str, str]
    #: How the container's launcher reads a boolean "on".
    true: str
    #: Config dtype -> the backend's spelling; a dtype missing here is refused.
    dtypes: Mapping[str, str]
    #: Quantization methods it accepts -> the weight dtype each gives (for the sizing check).
    quantizations: Mapping[str, str]
    #: Its own rules, beyond the ones every backend gets from the fields above.
    rules: tuple[Rule, ...] = ()
    #: Variables from a settings block of its own, written after the tensor-parallel degree.
    settings_environment: SettingsMapping | None = None
    #: Whether the token / offline switch follows the model variable (TGI's historic order
    #: in the template) rather than the serving variables.
    source_first: bool = False

    @property
    def name(self) -> str:
        """The name in messages (``vLLM``): the image table's, one home for both."""
        return images.display_name(self.image_key)

    def reads(self, serving_field: str) -> bool:
        return serving_field in self.variables

    def versions(self) -> list[str]:
        return images.versions(self.image_key)

    def image(self, version: str) -> images.DlcImage:
        return images.backend_image(self.image_key, version)


def degree_variables(backend: Backend, serving: Serving | None, *, gpus: int) -> dict[str, str]:
    """The tensor-parallel degree: ``serving``'s, else every GPU (none without GPUs)."""
    degree = serving.tensor_parallel_degree if serving and serving.tensor_parallel_degree else gpus
    return {backend.variables["tensor_parallel_degree"]: str(degree)} if degree else {}


def serving_variables(backend: Backend, serving: Serving | None) -> dict[str, str]:
    """The other ``serving`` fields the backend reads, in its spelling."""
    if serving is None:
        return {}
    keys = backend.variables
    env = {keys[name]: str(getattr(serving, name)) for name in NUMERIC_FIELDS
           if getattr(serving, name) is not None and backend.reads(name)}
    if serving.quantization is not None:
        env[keys["quantization"]] = serving.quantization
    if serving.dtype is not None:
        env[keys["dtype"]] = backend.dtypes[serving.dtype]
    if serving.trust_remote_code:
        env[keys["trust_remote_code"]] = backend.true
    return env


def environment(backend: Backend, spec: ModelSpec, *, model: str | None,
                source_variables: Mapping[str, str]) -> dict[str, str]:
    """The variables ``backend`` derives for ``spec``: the model (Hub id, or the local path
    of S3 artifacts), ``source_variables`` (the gated-model token reference, or the offline
    switch), the tensor-parallel degree, its own settings and the ``serving`` fields.
    Pure: the token reference is made by the caller (``stacks/translate.py``)."""
    env = {backend.variables["model"]: model} if model is not None else {}
    if backend.source_first:
        env.update(source_variables)
    env.update(degree_variables(backend, spec.serving, gpus=spec.num_gpus))
    if backend.settings_environment is not None:
        env.update(backend.settings_environment(spec))
    env.update(serving_variables(backend, spec.serving))
    if not backend.source_first:
        env.update(source_variables)
    return env

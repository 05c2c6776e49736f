"""The record of one serving backend, and the CDK-free mapping of a model's settings to the
variables its container reads.

What a ``serving`` field *means* is the record's: the engine option it sets (vLLM's
``--max-model-len``, SGLang's ``--context-length``, TGI's ``--max-total-tokens``), the
backend's spelling of each config dtype, and the quantizations the sizing check knows. What
depends on the engine version is the data's (``options.py``): whether the option exists at
that version, the values it accepts, the variable the image's entrypoint turns into it and
how that entrypoint spells a boolean. The image union, the version errors,
``ModelSpec.backend``, the serving rules and the container environment are derived from the
records (``config/backends/__init__.py`` lists them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from llm_constructs import images

from . import options
from .options import Engine

if TYPE_CHECKING:
    from config.shapes import ModelSpec, Serving

#: ``(path, message)``: one config problem.
Problem = tuple[str, str]
#: A rule of one backend: ``(path of the model, the model)`` -> its problems.
Rule = Callable[[str, "ModelSpec"], list[Problem]]
#: Extra variables a backend derives from its own settings block (TGI's ``tgi_settings``).
SettingsMapping = Callable[["ModelSpec"], dict[str, str]]
#: A field -> the engine options that mean it, the first one the version has wins (TGI
#: renamed ``--max-input-length`` to ``--max-input-tokens`` in 2.0 and kept both).
OptionMap = Mapping[str, tuple[str, ...]]

#: ``serving`` fields in the order their variables are written (after the model and the
#: tensor-parallel degree).
SERVING_FIELDS = ("max_model_len", "max_input_tokens", "max_concurrent_sequences",
                  "quantization", "dtype", "trust_remote_code")


@dataclass(frozen=True)
class Backend:
    """One serving backend: what the config derives for it, and what it checks."""

    #: The config key: ``image: {<key>: <version>}``.
    key: str
    #: The entry of ``llm_constructs/data/dlc_images.json`` with its versions and registries.
    image_key: str
    #: The engine's entry in ``config/data/engine_options.json``.
    engine_key: str
    #: ``model`` (the Hub id or local path) and each ``serving`` field it reads -> the engine
    #: options that mean it. A ``serving`` field missing here is one the backend lacks.
    options: OptionMap
    #: Spellings of a boolean "on", in order of preference: the first the version's
    #: entrypoint turns into the bare flag (or a value the option accepts) is written.
    true: tuple[str, ...]
    #: Config dtype -> the backend's spelling; a dtype missing here is refused.
    dtypes: Mapping[str, str]
    #: Quantization methods a config may give -> the weight dtype each gives (for the sizing
    #: check; a method is also checked against the version's own choices).
    quantizations: Mapping[str, str]
    #: Fields whose variable is a SageMaker convention the entrypoint renames (TGI's
    #: ``SM_NUM_GPUS`` -> ``NUM_SHARD``), instead of the option's own variable.
    variables: Mapping[str, str] = field(default_factory=dict)
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
        return serving_field in self.options

    def versions(self) -> list[str]:
        return images.versions(self.image_key)

    def image(self, version: str) -> images.DlcImage:
        return images.backend_image(self.image_key, version)

    def engine(self, version: str) -> Engine | None:
        """The engine's options and entrypoint at ``version`` (None: no data for it)."""
        return options.engine(self.engine_key, version)


# -- one field at one version -------------------------------------------------------------

def option_at(backend: Backend, engine: Engine, name: str, fields: OptionMap) -> str | None:
    """The first of the options meaning field ``name`` that ``engine``'s version has."""
    return next((o for o in fields.get(name, ()) if engine.option(o) is not None), None)


def assignment(backend: Backend, engine: Engine, name: str, value: object,
               fields: OptionMap | None = None) -> tuple[str, str] | None:
    """Field ``name`` = ``value`` as ``(variable, text)`` at the engine's version, or None
    when the version has no option for it (a config error, see ``version_problem``)."""
    fields = backend.options if fields is None else fields
    option = option_at(backend, engine, name, fields)
    if option is None:
        return None
    variable = backend.variables.get(name) or engine.variable(option)
    if isinstance(value, bool):
        return variable, boolean(backend, engine, variable, value)
    text = backend.dtypes.get(str(value), str(value)) if name == "dtype" else str(value)
    return variable, text


def boolean(backend: Backend, engine: Engine, variable: str, on: bool) -> str:
    """How the version's entrypoint is told "on" (the option given) or "off" (not given)."""
    spellings = backend.true if on else ("false",)
    for text in spellings:
        given = engine.arguments(variable, text)
        if engine.refusal(variable, text) is None and bool(given) == on:
            return text
    return spellings[0]  # none works: version_problem reports it


def refusal(backend: Backend, version: str, name: str, value: object,
            fields: OptionMap | None = None) -> str | None:
    """Why ``version`` cannot take field ``name`` = ``value`` (None: it can)."""
    engine = backend.engine(version)
    if engine is None:
        return (f"{backend.name} {version} has no engine option data (run "
                "tools/aws_facts/engine_options.py)")
    fields = backend.options if fields is None else fields
    found = assignment(backend, engine, name, value, fields)
    if found is None:
        return f"{backend.name} {version} has no {' or '.join(fields[name])}"
    variable, text = found
    for option, given in engine.arguments(variable, text):
        spec = engine.option(option)
        if spec is not None and spec.choices is not None and given not in spec.choices:
            return f"{text!r} is not a {backend.name} {version} {option} choice"
    problem = engine.refusal(variable, text)
    return None if problem is None else f"{backend.name} {version}: {variable}={text!r}: {problem}"


def version_problem(backend: Backend, version: str, name: str, value: object,
                    fields: OptionMap | None = None) -> str | None:
    """``refusal``, when the engine added or removed it, and the offered versions that take
    it (one line for the config)."""
    reason = refusal(backend, version, name, value, fields)
    if reason is None:
        return None
    having = [v for v in backend.versions() if refusal(backend, v, name, value, fields) is None]
    return (f"{reason}{history(backend, version, name, value, fields)}; versions that have "
            f"it: {', '.join(having) or 'none offered'}")


def history(backend: Backend, version: str, name: str, value: object,
            fields: OptionMap | None) -> str:
    """`` (added in 2.0.0)`` or `` (removed in TGI 2.4.0)`` when every version of the data
    that takes it is newer, or older, than ``version``; else nothing."""
    known = options.versions(backend.engine_key)
    if version not in known:
        return ""
    taking = [i for i, v in enumerate(known) if refusal(backend, v, name, value, fields) is None]
    here = known.index(version)
    if taking and taking[0] > here:
        return f" (added in {known[taking[0]]})"
    if taking and taking[-1] < here:
        return f" (removed in {backend.name} {known[taking[-1] + 1]})"
    return ""


# -- the environment ------------------------------------------------------------------------

def assignments(backend: Backend, engine: Engine | None, values: Mapping[str, object],
                fields: OptionMap | None = None, *, write_off: bool = False) -> dict[str, str]:
    """Each field of ``values`` that is set, as its variable at ``engine``'s version; a
    boolean that is off only with ``write_off`` (serving's are off by default)."""
    if engine is None:
        return {}
    out: dict[str, str] = {}
    for name, value in values.items():
        if value is None or (value is False and not write_off):
            continue
        found = assignment(backend, engine, name, value, fields)
        if found is not None:
            out[found[0]] = found[1]
    return out


def degree_variables(backend: Backend, engine: Engine | None, serving: Serving | None, *,
                     gpus: int) -> dict[str, str]:
    """The tensor-parallel degree: ``serving``'s, else every GPU (none without GPUs)."""
    degree = serving.tensor_parallel_degree if serving and serving.tensor_parallel_degree else gpus
    return assignments(backend, engine, {"tensor_parallel_degree": degree or None})


def serving_variables(backend: Backend, engine: Engine | None,
                      serving: Serving | None) -> dict[str, str]:
    """The other ``serving`` fields the backend reads, in its version's spelling."""
    if serving is None:
        return {}
    return assignments(backend, engine, {name: getattr(serving, name) for name in SERVING_FIELDS
                                         if backend.reads(name)})


def environment(backend: Backend, spec: ModelSpec, *, model: str | None,
                source_variables: Mapping[str, str]) -> dict[str, str]:
    """The variables ``backend`` derives for ``spec``: the model (Hub id, or the local path
    of S3 artifacts), ``source_variables`` (the gated-model token reference, or the offline
    switch), the tensor-parallel degree, its own settings and the ``serving`` fields, each
    as the image's version names and spells it.
    Pure: the token reference is made by the caller (``stacks/translate.py``)."""
    engine = backend.engine(spec.backend_version or "")
    env = assignments(backend, engine, {"model": model})
    if backend.source_first:
        env.update(source_variables)
    env.update(degree_variables(backend, engine, spec.serving, gpus=spec.num_gpus))
    if backend.settings_environment is not None:
        env.update(backend.settings_environment(spec))
    env.update(serving_variables(backend, engine, spec.serving))
    if not backend.source_first:
        env.update(source_variables)
    return env

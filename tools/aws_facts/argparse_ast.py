"""Read argparse options from Python source without importing it (vLLM and SGLang need
torch and CUDA to import).

``options(path, "EngineArgs.add_cli_args", package_root)`` walks the function's
``add_argument`` calls in order and returns option -> spec. Two ways of declaring an
option are understood, which between them cover vLLM and SGLang:

* explicit keywords: ``add_argument("--dtype", type=str, choices=[...], default=...)``;
  a ``choices``/``default`` naming a module constant or a dataclass field
  (``ServerArgs.dtype``) is resolved to its value;
* vLLM's ``add_argument("--dtype", **model_kwargs["dtype"])`` with
  ``model_kwargs = get_kwargs(ModelConfig)``: the kwargs come from the config dataclass's
  field, as ``vllm.engine.arg_utils._compute_kwargs`` derives them from the type hint
  (a dataclass -> JSON value; ``bool`` -> ``--x/--no-x``; ``Literal`` -> choices, plus
  ``"None"`` when optional; else a value); ``for k, v in kwargs.items(): add_argument(
  f"--{k...}", **v)`` adds every field.

A function that hands the parser on, ``FrontendArgs.add_cli_args(parser)``, is followed:
the method where Python finds it (an inherited classmethod too, with ``cls`` bound to the
class it was called on); ``ParserReader.read`` lists each function read.
Options added in a group from ``add_mutually_exclusive_group()`` record that group.
What cannot be evaluated statically is kept as its source text (``"<expr ...>"``).
"""

from __future__ import annotations

import ast
import dataclasses
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

FLAG_ACTIONS = {"store_true", "store_false", "store_const", "count", "BooleanOptionalAction"}


class Package:
    """The Python files of one unpacked package version, indexed by the classes and
    module-level names they define (one pass; lookups prefer ``home``, the parsed file)."""

    _DEFINES = re.compile(r"^(?:class\s+(\w+)|(?:type\s+)?(\w+)\s*(?::[^=\n]*)?=)", re.M)

    def __init__(self, root: Path):
        self.root = root
        self.home: Path | None = None
        self.defined: dict[str, list[Path]] = {}
        self._trees: dict[Path, ast.Module] = {}
        for path in sorted(root.rglob("*.py")):
            text = path.read_text(encoding="utf-8", errors="replace")
            for cls, name in self._DEFINES.findall(text):
                self.defined.setdefault(cls or name, []).append(path)

    def tree(self, path: Path) -> ast.Module:
        """The parsed file, parsed once."""
        if path not in self._trees:
            self._trees[path] = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
        return self._trees[path]

    def _candidates(self, name: str) -> list[Path]:
        """Where ``name`` is defined: the parsed file, the module it imports ``name`` from,
        then any other file of the package."""
        paths = self.defined.get(name, [])
        imported = self._imports_of_home().get(name)
        return sorted(paths, key=lambda p: (p != self.home, p != imported))

    def _imports_of_home(self) -> dict[str, Path]:
        if self.home is None:
            return {}
        out = {}
        for node in self.tree(self.home).body:
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                base = self.root / node.module.replace(".", "/")
                path = base.with_suffix(".py") if base.with_suffix(".py").exists() \
                    else base / "__init__.py"
                out.update({alias.asname or alias.name: path for alias in node.names})
        return out

    def locate_class(self, name: str) -> tuple[Path, ast.ClassDef] | None:
        """(the file, the definition) of the class ``name``."""
        for path in self._candidates(name):
            for node in self.tree(path).body:
                if isinstance(node, ast.ClassDef) and node.name == name:
                    return path, node
        return None

    def find_class(self, name: str) -> ast.ClassDef | None:
        located = self.locate_class(name)
        return located[1] if located else None

    @contextmanager
    def at(self, path: Path) -> Iterator[None]:
        """Resolve names as ``path`` sees them (its own definitions and imports first)."""
        saved, self.home = self.home, path
        try:
            yield
        finally:
            self.home = saved

    def find_assignment(self, name: str) -> ast.expr | None:
        """The value of a module-level ``name = ...`` (or ``name: T = ...``, ``type name =``)."""
        for path in self._candidates(name):
            for node in self.tree(path).body:
                if assigns(node, name):
                    return node.value
        return None


def assigns(node: ast.stmt, name: str) -> bool:
    """Whether ``node`` gives ``name`` a value: ``name = ...``, ``name: T = ...`` or
    ``type name = ...``."""
    if isinstance(node, ast.Assign):
        return any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
    if isinstance(node, ast.AnnAssign):
        return (isinstance(node.target, ast.Name) and node.target.id == name
                and node.value is not None)
    return type(node).__name__ == "TypeAlias" and node.name.id == name


#: What ``followed`` returns for an expression it cannot evaluate.
UNRESOLVED = object()


def value_of(node: ast.expr | None, pkg: Package, depth: int = 0):
    """A constant's value, following module constants and ``Cls.field`` defaults; what
    cannot be evaluated is its source text, ``"<expr ...>"``."""
    if node is None:
        return None
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        value = followed(node, pkg, depth + 1) if depth < 4 else UNRESOLVED
        return f"<expr {ast.unparse(node)}>" if value is UNRESOLVED else value
    # A set has no order of its own: sorted, so that each run writes the same file.
    return sorted(value, key=str) if isinstance(value, (set, frozenset)) else value


def followed(node: ast.expr, pkg: Package, depth: int):
    """The value of a module-level name, of a ``Cls.field`` default, or of ``list(x)``,
    ``tuple(x)``, ``sorted(x)`` of a collection; ``UNRESOLVED`` otherwise."""
    if isinstance(node, ast.Name):
        target = pkg.find_assignment(node.id)
        return UNRESOLVED if target is None else value_of(target, pkg, depth)
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        cls = pkg.find_class(node.value.id)
        field = class_field(cls, node.attr) if cls else None
        return UNRESOLVED if field is None else value_of(field_default(field), pkg, depth)
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id in ("list", "tuple", "sorted") and len(node.args) == 1):
        inner = value_of(node.args[0], pkg, depth)
        return list(inner) if isinstance(inner, (list, tuple, dict, set)) else UNRESOLVED
    return UNRESOLVED


def class_field(cls: ast.ClassDef, name: str, pkg: Package | None = None) -> ast.AnnAssign | None:
    """The field ``name`` of ``cls``, or of its base classes when ``pkg`` is given."""
    for node in cls.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) \
                and node.target.id == name:
            return node
    for base in cls.bases if pkg else []:
        parent = pkg.find_class(ast.unparse(base).split(".")[-1])
        found = class_field(parent, name, pkg) if parent else None
        if found is not None:
            return found
    return None


def field_names(cls: ast.ClassDef, pkg: Package) -> list[str]:
    """Field names of ``cls`` and its base classes, bases first (dataclass order)."""
    names: list[str] = []
    for base in cls.bases:
        parent = pkg.find_class(ast.unparse(base).split(".")[-1])
        names += field_names(parent, pkg) if parent else []
    names += [n.target.id for n in cls.body
              if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)]
    return list(dict.fromkeys(names))


def field_default(field: ast.AnnAssign) -> ast.expr | None:
    """``= x``, ``= Field(default=x)``, ``= field(default=x)``; None when a factory/absent."""
    value = field.value
    if isinstance(value, ast.Call) and getattr(value.func, "id", getattr(
            value.func, "attr", "")) in ("Field", "field"):
        for kw in value.keywords:
            if kw.arg == "default":
                return kw.value
        return None
    return value


def is_dataclass(cls: ast.ClassDef | None) -> bool:
    return cls is not None and any(
        "dataclass" in ast.unparse(d) or ast.unparse(d) == "config" for d in cls.decorator_list)


def type_hints(node: ast.expr, pkg: Package, depth: int = 0) -> list:
    """Flatten a type hint into names and ``("Literal", values)``, following aliases."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return type_hints(node.left, pkg, depth) + type_hints(node.right, pkg, depth)
    if isinstance(node, ast.Constant) and isinstance(node.value, str):  # string annotation
        return type_hints(ast.parse(node.value, mode="eval").body, pkg, depth)
    if isinstance(node, ast.Constant) and node.value is None:
        return ["None"]
    if isinstance(node, ast.Subscript):
        return subscript_hints(node, pkg, depth)
    return named_hints(ast.unparse(node).split(".")[-1], pkg, depth)


def subscript_hints(node: ast.Subscript, pkg: Package, depth: int) -> list:
    """``Literal[...]`` gives its values; ``Union``/``Optional`` their members;
    ``Annotated`` its type; any other generic (``list[int]``) its own name."""
    head = ast.unparse(node.value).split(".")[-1]
    inner = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
    if head == "Literal":
        return [("Literal", [value_of(e, pkg) for e in inner])]
    if head in ("Union", "Optional"):
        hints = [h for e in inner for h in type_hints(e, pkg, depth)]
        return hints + (["None"] if head == "Optional" else [])
    if head == "Annotated":
        return type_hints(inner[0], pkg, depth)
    return [head]


def named_hints(name: str, pkg: Package, depth: int) -> list:
    """A capitalised name that is not a dataclass may be an alias (``X = Literal[...]``,
    ``type X = ...``): followed; otherwise the name itself."""
    if depth < 6 and name[:1].isupper() and not is_dataclass(pkg.find_class(name)):
        alias = pkg.find_assignment(name)
        if alias is not None and not isinstance(alias, ast.Call):
            return type_hints(alias, pkg, depth + 1)
    return [name]


def hint_parts(hints: list) -> tuple[set[str], list]:
    """(the names, the ``Literal`` values) of flattened ``type_hints``."""
    names = {h for h in hints if isinstance(h, str)}
    literals = [v for h in hints if isinstance(h, tuple) for v in h[1]]
    return names, literals


def action_name(node: ast.expr) -> str:
    """``action="store_true"`` or ``action=argparse.BooleanOptionalAction`` -> its name."""
    return ast.unparse(node).split(".")[-1].strip("'\"")


def field_spec(cls: ast.ClassDef, name: str, pkg: Package) -> dict:
    """argparse kwargs of a config dataclass field, as vLLM's ``_compute_kwargs``."""
    field = class_field(cls, name, pkg)
    if field is None:
        return {"kind": "value", "note": f"field {cls.name}.{name} not found"}
    return {"default": field_default_value(field, pkg),
            "type_hint": ast.unparse(field.annotation),
            **computed_kind(type_hints(field.annotation, pkg), pkg)}


def field_default_value(field: ast.AnnAssign, pkg: Package):
    """The field's default; a factory's source text; None when it has none."""
    default = field_default(field)
    if default is not None:
        return value_of(default, pkg)
    return None if field.value is None else f"<expr {ast.unparse(field.value)}>"


def computed_kind(hints: list, pkg: Package) -> dict:
    """``_compute_kwargs``: a dataclass is JSON; a bool ``--x/--no-x``; a ``Literal`` gives
    choices (and ``"None"`` when optional); a collection ``nargs='+'``; else a value."""
    names, literals = hint_parts(hints)
    if any(is_dataclass(pkg.find_class(n)) for n in names - {"None"}):
        return {"kind": "value", "type": "json"}
    if "bool" in names:
        return {"kind": "flag", "negatable": True}
    if literals:
        return {"kind": "value", "choices": literals + (["None"] if "None" in names else [])}
    if names & {"list", "tuple", "set"}:
        return {"kind": "value", "nargs": "+"}
    return {"kind": "value"}


def explicit_spec(call: ast.Call, pkg: Package) -> dict:
    kw = {k.arg: k.value for k in call.keywords if k.arg}
    action = action_name(kw["action"]) if "action" in kw else None
    spec: dict = {"kind": "flag" if action in FLAG_ACTIONS else "value"}
    if action == "BooleanOptionalAction":
        spec["negatable"] = True
    if action:
        spec["action"] = action
    if "type" in kw:
        spec["type"] = ast.unparse(kw["type"])
    for key in ("choices", "default", "nargs", "const"):
        if key in kw:
            spec[key] = value_of(kw[key], pkg)
    if spec["kind"] == "flag" and "default" not in spec:
        spec["default"] = action == "store_false"
    return spec


def annotated_fields(cls: ast.ClassDef, pkg: Package) -> dict[str, dict]:
    """SGLang >= 0.5.14: options declared as ``field: A[T, "help"]`` or ``A[T, Arg(...)]``,
    added by ``add_cli_args_from_dataclass`` (sglang/srt/arg_groups/arg_utils.py)."""
    out = {}
    for node in cls.body:
        option = annotated_option(node, cls, pkg)
        if option is not None:
            out[option[0]] = option[1]
    return out


def is_annotated_field(node: ast.stmt) -> bool:
    """``name: A[T, meta, ...]`` (``A`` is SGLang's alias of ``Annotated``)."""
    return (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
            and isinstance(node.annotation, ast.Subscript)
            and ast.unparse(node.annotation.value) in ("A", "Annotated")
            and isinstance(node.annotation.slice, ast.Tuple))


def arg_keywords(meta: ast.expr) -> dict[str | None, ast.expr] | None:
    """The keywords of ``Arg(...)``; none for a help string; None for another call (a field
    that is not an option)."""
    if not isinstance(meta, ast.Call):
        return {}
    if ast.unparse(meta.func) == "Arg":
        return {k.arg: k.value for k in meta.keywords}
    return None


def annotated_option(node: ast.stmt, cls: ast.ClassDef, pkg: Package) -> tuple[str, dict] | None:
    """(option, spec) of one annotated field, or None when it is not a CLI option."""
    if not is_annotated_field(node):
        return None
    hint, meta = node.annotation.slice.elts[:2]
    arg = arg_keywords(meta)
    if arg is None or value_of(arg.get("no_cli"), pkg) is True:
        return None
    name = value_of(arg["cli_name"], pkg) if "cli_name" in arg else \
        "--" + node.target.id.replace("_", "-")
    spec = {"default": value_of(node.value, pkg) if node.value else None,
            "type_hint": ast.unparse(hint), "source_field": f"{cls.name}.{node.target.id}",
            **annotated_kind(type_hints(hint, pkg), arg, pkg)}
    if "aliases" in arg:
        spec["aliases"] = value_of(arg["aliases"], pkg)
    return name, spec


def annotated_kind(hints: list, arg: dict, pkg: Package) -> dict:
    """As ``add_cli_args_from_dataclass``: an explicit action wins; ``Literal``/``choices``
    give choices; ``List`` gives ``nargs='+'``; a bool is ``store_true``."""
    names, literals = hint_parts(hints)
    if "action" in arg:
        action = action_name(arg["action"])
        return {"kind": "flag" if action in FLAG_ACTIONS else "value", "action": action}
    if "choices" in arg:
        return {"kind": "value", "choices": value_of(arg["choices"], pkg)}
    if literals:
        return {"kind": "value", "choices": literals}
    if names & {"List", "list"} and "type_parser" not in arg:
        return {"kind": "value", "nargs": value_of(arg.get("nargs"), pkg) or "+"}
    if names == {"bool"}:
        return {"kind": "flag", "action": "store_true"}
    return {"kind": "value"}


def composed_classes(cls: ast.ClassDef, pkg: Package) -> list[ast.ClassDef]:
    """The class, plus the namespace classes SGLang 0.5.20 composes ``ServerArgs`` from
    (the module-level ``_INPUT_NAMESPACES`` list beside it)."""
    parts = [cls]
    listed = pkg.find_assignment("_INPUT_NAMESPACES")
    if isinstance(listed, ast.List):
        parts += [c for c in (pkg.find_class(e.id) for e in listed.elts
                              if isinstance(e, ast.Name)) if c is not None]
    return parts


def find_method(pkg: Package, class_name: str, method: str,
                depth: int = 0) -> tuple[Path, ast.ClassDef, ast.FunctionDef] | None:
    """(file, defining class, definition) of ``class_name.method`` as Python finds it: in
    the class, else in its bases, depth first (vLLM >= 0.17 inherits
    ``FrontendArgs.add_cli_args`` from ``BaseFrontendArgs``)."""
    located = pkg.locate_class(class_name) if depth < 8 else None
    if located is None:
        return None
    path, cls = located
    for node in cls.body:
        if isinstance(node, ast.FunctionDef) and node.name == method:
            return path, cls, node
    with pkg.at(path):
        for base in cls.bases:
            found = find_method(pkg, ast.unparse(base).split(".")[-1], method, depth + 1)
            if found is not None:
                return found
    return None


@dataclass
class Scope:
    """What a parser function assigns besides its ``add_argument`` calls."""

    #: variable -> the config dataclass of its ``get_kwargs(Config)`` (vLLM)
    kwargs_of: dict[str, ast.ClassDef] = dataclasses.field(default_factory=dict)
    #: for-loop value variable -> the kwargs variable it iterates
    loop_vars: dict[str, str] = dataclasses.field(default_factory=dict)
    #: ``add_mutually_exclusive_group()`` variable -> its options
    exclusive: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    #: ``cls`` of a classmethod -> the class it was called on
    bound: dict[str, ast.ClassDef] = dataclasses.field(default_factory=dict)

    @classmethod
    def of(cls, func: ast.FunctionDef, pkg: Package,
           bound: dict[str, ast.ClassDef] | None = None) -> Scope:
        scope = cls(bound=bound or {})
        for node in ast.walk(func):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
                scope.note_call(ast.unparse(node.targets[0]), node.value, pkg)
            elif isinstance(node, ast.For) and isinstance(node.target, ast.Tuple):
                source = ast.unparse(node.iter).removesuffix(".items()")
                scope.loop_vars[ast.unparse(node.target.elts[1])] = source
        return scope

    def note_call(self, target: str, call: ast.Call, pkg: Package) -> None:
        callee = ast.unparse(call.func)
        if callee.endswith("get_kwargs") and call.args:
            name = ast.unparse(call.args[0])
            config = self.bound.get(name) or pkg.find_class(name.split(".")[-1])
            if config is not None:
                self.kwargs_of[target] = config
        elif callee.endswith("add_mutually_exclusive_group"):
            self.exclusive[target] = []

    def looped_class(self, spread: ast.expr | None) -> ast.ClassDef | None:
        """``for k, v in kwargs.items(): add_argument(..., **v)``: the dataclass behind v."""
        if not isinstance(spread, ast.Name) or spread.id not in self.loop_vars:
            return None
        return self.kwargs_of.get(self.loop_vars[spread.id])


class ParserReader:
    """Reads parser functions into one parser: each function's ``add_argument`` calls, and
    the functions it hands the parser to, ``SomeArgs.add_cli_args(parser)`` (vLLM's
    ``make_arg_parser`` adds the frontend's and the engine's options that way)."""

    def __init__(self, pkg: Package):
        self.pkg = pkg
        self.options: dict[str, dict] = {}
        self.exclusive: list[list[str]] = []
        #: ``file:Class.method`` of each function read, in the order read
        self.read: list[str] = []

    def read_function(self, path: Path, function: str) -> bool:
        """Read ``function`` (``name`` or ``Class.method``, inherited or not) of ``path``;
        False when the file does not define it."""
        with self.pkg.at(path):
            if "." not in function:
                func = next((n for n in self.pkg.tree(path).body if isinstance(n, ast.FunctionDef)
                             and n.name == function), None)
                if func is not None:
                    self._walk(path, function, func, {})
                return func is not None
            class_name, method = function.split(".")
            return self.read_method(class_name, method)

    def read_method(self, class_name: str, method: str) -> bool:
        """Read ``class_name.method`` where Python finds it, ``cls`` bound to the class."""
        found = find_method(self.pkg, class_name, method)
        if found is None:
            return False
        path, owner, func = found
        label = f"{owner.name}.{method}" + (f" (of {class_name})" if owner.name != class_name
                                            else "")
        cls = self.pkg.find_class(class_name)
        self._walk(path, label, func, {"cls": cls} if cls is not None else {})
        return True

    def _walk(self, path: Path, label: str, func: ast.FunctionDef,
              bound: dict[str, ast.ClassDef]) -> None:
        where = f"{path.relative_to(self.pkg.root)}:{label}"
        if where in self.read:  # read already (a second parser file, or a cycle)
            return
        self.read.append(where)
        with self.pkg.at(path):
            scope = Scope.of(func, self.pkg, bound)
            for node in ast.walk(func):
                if isinstance(node, ast.Call):
                    self._call(node, scope)
        self.exclusive += [g for g in scope.exclusive.values() if g]

    def _call(self, call: ast.Call, scope: Scope) -> None:
        func = call.func
        if ast.unparse(func) == "add_cli_args_from_dataclass" and len(call.args) > 1:
            self.options.update(dataclass_options(call, self.pkg))
        elif isinstance(func, ast.Attribute) and func.attr == "add_argument":
            self.options.update(argument_options(call, scope, self.pkg))
        elif (isinstance(func, ast.Attribute) and func.attr == "add_cli_args"
              and isinstance(func.value, ast.Name) and func.value.id not in scope.bound):
            self.read_method(func.value.id, "add_cli_args")


def options(path: Path, function: str, pkg: Package) -> tuple[dict, list[list[str]]]:
    """(option -> spec, mutually exclusive groups) of ``function`` in ``path`` and of the
    ``add_cli_args`` it calls."""
    reader = ParserReader(pkg)
    if not reader.read_function(path, function):
        raise LookupError(f"{function} is not in {path}")
    return reader.options, reader.exclusive


def dataclass_options(call: ast.Call, pkg: Package) -> dict[str, dict]:
    """``add_cli_args_from_dataclass(parser, ServerArgs)`` (SGLang >= 0.5.14)."""
    cls = pkg.find_class(ast.unparse(call.args[1]))
    out: dict[str, dict] = {}
    for part in composed_classes(cls, pkg) if cls else []:
        out.update(annotated_fields(part, pkg))
    return out


def argument_options(call: ast.Call, scope: Scope, pkg: Package) -> dict[str, dict]:
    """The option(s) one ``add_argument`` call adds (every field of a dataclass in a loop);
    an option of an exclusive group is noted in ``scope``."""
    spread = next((k.value for k in call.keywords if k.arg is None), None)
    looped = scope.looped_class(spread)
    if looped is not None:
        return every_field(looped, pkg)
    names = [a.value for a in call.args
             if isinstance(a, ast.Constant) and str(a.value).startswith("-")]
    if not names:
        return {}
    spec = argument_spec(call, spread, scope, pkg)
    if len(names) > 1:
        spec["aliases"] = names[1:]
    receiver = ast.unparse(call.func.value)
    if receiver in scope.exclusive:
        scope.exclusive[receiver].append(names[0])
    return {names[0]: spec}


def every_field(cls: ast.ClassDef, pkg: Package) -> dict[str, dict]:
    return {"--" + name.replace("_", "-"): {**field_spec(cls, name, pkg),
                                            "source_field": f"{cls.name}.{name}"}
            for name in field_names(cls, pkg)}


def argument_spec(call: ast.Call, spread: ast.expr | None, scope: Scope, pkg: Package) -> dict:
    """The spec from ``**kwargs["field"]`` (if any), then the explicit keywords (the kind
    only with an explicit action), then the overrides of a ``**{...}`` literal."""
    spread, overrides = split_spread(spread, pkg)
    spec = spread_spec(spread, scope, pkg)
    explicit = explicit_spec(call, pkg)
    if spec:
        spec.update({k: v for k, v in explicit.items() if k != "kind" or "action" in explicit})
    else:
        spec = explicit
    spec.update({k: v for k, v in overrides.items() if k in ("default", "choices", "nargs")})
    return spec


def split_spread(spread: ast.expr | None, pkg: Package) -> tuple[ast.expr | None, dict]:
    """``**{**kwargs["f"], "default": None}`` -> (``kwargs["f"]``, ``{"default": None}``)."""
    if not isinstance(spread, ast.Dict):
        return spread, {}
    pairs = list(zip(spread.keys, spread.values, strict=True))
    overrides = {value_of(k, pkg): value_of(v, pkg) for k, v in pairs if k is not None}
    return next((v for k, v in pairs if k is None), None), overrides


def spread_spec(spread: ast.expr | None, scope: Scope, pkg: Package) -> dict:
    """vLLM's ``**kwargs["field"]``: the spec of that field of the config dataclass."""
    if not (isinstance(spread, ast.Subscript) and ast.unparse(spread.value) in scope.kwargs_of):
        return {}
    cls = scope.kwargs_of[ast.unparse(spread.value)]
    field = value_of(spread.slice, pkg)
    return {**field_spec(cls, field, pkg), "source_field": f"{cls.name}.{field}"}

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

Options added in a group from ``add_mutually_exclusive_group()`` record that group.
What cannot be evaluated statically is kept as its source text (``"<expr ...>"``).
"""

from __future__ import annotations

import ast
import re
from functools import lru_cache
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
        for path in sorted(root.rglob("*.py")):
            text = path.read_text(encoding="utf-8", errors="replace")
            for cls, name in self._DEFINES.findall(text):
                self.defined.setdefault(cls or name, []).append(path)

    @lru_cache(maxsize=None)
    def tree(self, path: Path) -> ast.Module:
        return ast.parse(path.read_text(encoding="utf-8", errors="replace"))

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

    def find_class(self, name: str) -> ast.ClassDef | None:
        for path in self._candidates(name):
            for node in self.tree(path).body:
                if isinstance(node, ast.ClassDef) and node.name == name:
                    return node
        return None

    def find_assignment(self, name: str) -> ast.expr | None:
        """The value of a module-level ``name = ...`` (or ``name: T = ...``, ``type name =``)."""
        for path in self._candidates(name):
            for node in self.tree(path).body:
                if isinstance(node, ast.Assign) and any(
                        isinstance(t, ast.Name) and t.id == name for t in node.targets):
                    return node.value
                if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                        and node.target.id == name and node.value is not None):
                    return node.value
                if type(node).__name__ == "TypeAlias" and node.name.id == name:
                    return node.value
        return None


def value_of(node: ast.expr | None, pkg: Package, depth: int = 0):
    """A constant's value, following module constants and ``Cls.field`` defaults."""
    if node is None:
        return None
    try:
        value = ast.literal_eval(node)
        # A set has no order of its own: sorted, so that each run writes the same file.
        return sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        pass
    if depth < 4 and isinstance(node, ast.Name):
        target = pkg.find_assignment(node.id)
        if target is not None:
            return value_of(target, pkg, depth + 1)
    if depth < 4 and isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        cls = pkg.find_class(node.value.id)
        field = class_field(cls, node.attr) if cls else None
        if field is not None:
            return value_of(field_default(field), pkg, depth + 1)
    if (depth < 4 and isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id in ("list", "tuple", "sorted") and len(node.args) == 1):
        inner = value_of(node.args[0], pkg, depth + 1)
        if isinstance(inner, (list, tuple, dict, set)):
            return list(inner)
    return f"<expr {ast.unparse(node)}>"


def class_field(cls: ast.ClassDef, name: str, pkg: "Package | None" = None) -> ast.AnnAssign | None:
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


def field_names(cls: ast.ClassDef, pkg: "Package") -> list[str]:
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
    name = ast.unparse(node).split(".")[-1]
    if depth < 6 and name[:1].isupper() and not is_dataclass(pkg.find_class(name)):
        alias = pkg.find_assignment(name)
        if alias is not None and not isinstance(alias, ast.Call):
            return type_hints(alias, pkg, depth + 1)
    return [name]


def field_spec(cls: ast.ClassDef, name: str, pkg: Package) -> dict:
    """argparse kwargs of a config dataclass field, as vLLM's ``_compute_kwargs``."""
    field = class_field(cls, name, pkg)
    if field is None:
        return {"kind": "value", "note": f"field {cls.name}.{name} not found"}
    hints = type_hints(field.annotation, pkg)
    names = {h for h in hints if isinstance(h, str)}
    literals = [v for h in hints if isinstance(h, tuple) for v in h[1]]
    default = field_default(field)
    spec: dict = {"default": value_of(default, pkg) if default is not None else
                  (None if field.value is None else f"<expr {ast.unparse(field.value)}>"),
                  "type_hint": ast.unparse(field.annotation)}
    if any(is_dataclass(pkg.find_class(n)) for n in names - {"None"}):
        spec.update(kind="value", type="json")
    elif "bool" in names:
        spec.update(kind="flag", negatable=True)
    elif literals:
        spec.update(kind="value", choices=literals + (["None"] if "None" in names else []))
    elif names & {"list", "tuple", "set"}:
        spec.update(kind="value", nargs="+")
    else:
        spec.update(kind="value")
    return spec


def explicit_spec(call: ast.Call, pkg: Package) -> dict:
    kw = {k.arg: k.value for k in call.keywords if k.arg}
    action = ast.unparse(kw["action"]).split(".")[-1].strip("'\"") if "action" in kw else None
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
    added by ``add_cli_args_from_dataclass`` (sglang/srt/arg_groups/arg_utils.py): a bool is
    ``store_true``; ``Literal``/``choices`` give choices; ``List`` gives ``nargs='+'``."""
    out = {}
    for node in cls.body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                and isinstance(node.annotation, ast.Subscript)
                and ast.unparse(node.annotation.value) in ("A", "Annotated")
                and isinstance(node.annotation.slice, ast.Tuple)):
            continue
        hint, meta = node.annotation.slice.elts[:2]
        arg = ({k.arg: k.value for k in meta.keywords}
               if isinstance(meta, ast.Call) and ast.unparse(meta.func) == "Arg" else {})
        if isinstance(meta, ast.Call) and not arg and ast.unparse(meta.func) != "Arg":
            continue
        if value_of(arg.get("no_cli"), pkg) is True:
            continue
        name = value_of(arg["cli_name"], pkg) if "cli_name" in arg else \
            "--" + node.target.id.replace("_", "-")
        hints = type_hints(hint, pkg)
        names = {h for h in hints if isinstance(h, str)}
        literals = [v for h in hints if isinstance(h, tuple) for v in h[1]]
        spec: dict = {"default": value_of(node.value, pkg) if node.value else None,
                      "type_hint": ast.unparse(hint), "source_field": f"{cls.name}.{node.target.id}"}
        if "action" in arg:
            action = ast.unparse(arg["action"]).split(".")[-1].strip("'\"")
            spec.update(kind="flag" if action in FLAG_ACTIONS else "value", action=action)
        elif literals or "choices" in arg:
            spec.update(kind="value", choices=value_of(arg["choices"], pkg)
                        if "choices" in arg else literals)
        elif names & {"List", "list"} and "type_parser" not in arg:
            spec.update(kind="value", nargs=value_of(arg.get("nargs"), pkg) or "+")
        elif names == {"bool"}:
            spec.update(kind="flag", action="store_true")
        else:
            spec.update(kind="value")
            if "choices" in arg:
                spec["choices"] = value_of(arg["choices"], pkg)
        if "aliases" in arg:
            spec["aliases"] = value_of(arg["aliases"], pkg)
        out[name] = spec
    return out


def composed_classes(cls: ast.ClassDef, pkg: Package) -> list[ast.ClassDef]:
    """The class, plus the namespace classes SGLang 0.5.20 composes ``ServerArgs`` from
    (the module-level ``_INPUT_NAMESPACES`` list beside it)."""
    parts = [cls]
    listed = pkg.find_assignment("_INPUT_NAMESPACES")
    if isinstance(listed, ast.List):
        parts += [c for c in (pkg.find_class(e.id) for e in listed.elts
                              if isinstance(e, ast.Name)) if c is not None]
    return parts


def find_function(tree: ast.Module, dotted: str) -> ast.FunctionDef:
    scope: list = tree.body
    for part in dotted.split("."):
        node = next(n for n in scope if isinstance(n, (ast.ClassDef, ast.FunctionDef))
                    and n.name == part)
        scope = node.body
    return node


def options(path: Path, function: str, pkg: Package) -> tuple[dict, list[list[str]]]:
    """(option -> spec, mutually exclusive groups) of ``function`` in ``path``."""
    pkg.home = path
    func = find_function(pkg.tree(path), function)
    kwargs_of: dict[str, ast.ClassDef] = {}   # variable -> config dataclass (vLLM)
    loop_vars: dict[str, str] = {}            # for-loop value variable -> kwargs variable
    exclusive: dict[str, list[str]] = {}      # group variable -> its options
    out: dict[str, dict] = {}
    for node in ast.walk(func):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            callee = ast.unparse(node.value.func)
            target = ast.unparse(node.targets[0])
            if callee.endswith("get_kwargs") and node.value.args:
                cls = pkg.find_class(ast.unparse(node.value.args[0]).split(".")[-1])
                if cls is not None:
                    kwargs_of[target] = cls
            elif callee.endswith("add_mutually_exclusive_group"):
                exclusive[target] = []
        elif isinstance(node, ast.For) and isinstance(node.target, ast.Tuple):
            source = ast.unparse(node.iter).removesuffix(".items()")
            loop_vars[ast.unparse(node.target.elts[1])] = source
    for node in ast.walk(func):
        if (isinstance(node, ast.Call) and ast.unparse(node.func) == "add_cli_args_from_dataclass"
                and len(node.args) > 1):
            cls = pkg.find_class(ast.unparse(node.args[1]))
            for part in composed_classes(cls, pkg) if cls else []:
                out.update(annotated_fields(part, pkg))
            continue
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "add_argument"):
            continue
        receiver = ast.unparse(node.func.value)
        spread = next((k.value for k in node.keywords if k.arg is None), None)
        names = [a.value for a in node.args
                 if isinstance(a, ast.Constant) and str(a.value).startswith("-")]
        if spread is not None and isinstance(spread, ast.Name) and spread.id in loop_vars \
                and loop_vars[spread.id] in kwargs_of:       # every field of the dataclass
            cls = kwargs_of[loop_vars[spread.id]]
            for name in field_names(cls, pkg):
                out["--" + name.replace("_", "-")] = {**field_spec(cls, name, pkg),
                                                      "source_field": f"{cls.name}.{name}"}
            continue
        if not names:
            continue
        spec: dict = {}
        overrides: dict = {}
        if isinstance(spread, ast.Dict):  # **{**kwargs["f"], "default": None}
            overrides = {value_of(k, pkg): value_of(v, pkg)
                         for k, v in zip(spread.keys, spread.values) if k is not None}
            spread = next((v for k, v in zip(spread.keys, spread.values) if k is None), None)
        if (isinstance(spread, ast.Subscript) and ast.unparse(spread.value) in kwargs_of):
            cls = kwargs_of[ast.unparse(spread.value)]
            field = value_of(spread.slice, pkg)
            spec = {**field_spec(cls, field, pkg), "source_field": f"{cls.name}.{field}"}
        explicit = explicit_spec(node, pkg)
        spec = {**spec, **explicit} if not spec else {**spec, **{
            k: v for k, v in explicit.items() if k != "kind" or "action" in explicit}}
        spec.update({k: v for k, v in overrides.items() if k in ("default", "choices", "nargs")})
        if len(names) > 1:
            spec["aliases"] = names[1:]
        out[names[0]] = spec
        if receiver in exclusive:
            exclusive[receiver].append(names[0])
    return out, [g for g in exclusive.values() if g]

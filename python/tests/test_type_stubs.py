"""dptrain/_core.pyi against the compiled module dptrain._core, in both directions: the same
public names (classes, functions, module attributes), the same members per class (methods,
static methods, read-only properties as @property, settable ones as annotated attributes), the
same parameter names in the same order with the same defaults present, a class's stub bases
among its real ones, and every Literal[...] of a setting equal to the names the setter accepts
(read from its "expected a, b or c" message).

The module's side is read from what pybind11 publishes: a function's first docstring line is its
signature, `name(self: T, a: int, b: str = 'x') -> R`; arguments bound without py::arg appear as
arg0, arg1, ... and fail the comparison (a stub cannot name them). Type aliases of the stub
(`EpochReport = dict[...]`) exist only for type checkers and are not compared."""

import ast
import inspect
import pathlib
import re

import pytest

from dptrain import _core

STUB = pathlib.Path(__file__).resolve().parent.parent / "dptrain" / "_core.pyi"
TREE = ast.parse(STUB.read_text(), filename=str(STUB))


# ---- the stub's side ---------------------------------------------------------------------------

def decorators(node):
    return {d.id for d in node.decorator_list if isinstance(d, ast.Name)}


def stub_parameters(fn):
    """[(name or '*' / '**', has_default)] without self."""
    a = fn.args
    positional = a.posonlyargs + a.args
    defaults = [False] * (len(positional) - len(a.defaults)) + [True] * len(a.defaults)
    out = list(zip((p.arg for p in positional), defaults))
    if out and out[0][0] in ("self", "cls") and "staticmethod" not in decorators(fn):
        out = out[1:]
    if a.vararg:
        out.append(("*", False))
    out += [(p.arg, d is not None) for p, d in zip(a.kwonlyargs, a.kw_defaults)]
    if a.kwarg:
        out.append(("**", False))
    return out


def stub_members(cls):
    """{name: (kind, node)}: kind 'method', 'staticmethod', 'property' or 'attribute'."""
    out = {}
    for node in cls.body:
        if isinstance(node, ast.FunctionDef):
            d = decorators(node)
            kind = "property" if "property" in d else "staticmethod" if "staticmethod" in d else "method"
            out[node.name] = (kind, node)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            out[node.target.id] = ("attribute", node)
    return out


STUB_CLASSES = {n.name: n for n in TREE.body if isinstance(n, ast.ClassDef)}
STUB_FUNCTIONS = {n.name: n for n in TREE.body if isinstance(n, ast.FunctionDef)}
STUB_ATTRIBUTES = {n.target.id for n in TREE.body
                   if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)}


# ---- the module's side -------------------------------------------------------------------------

def split_top_level(text):
    """Splits at the commas outside brackets and quotes."""
    parts, depth, quote, start = [], 0, None, 0
    for i, ch in enumerate(text):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    tail = text[start:].strip()
    return parts + [tail] if tail else parts


def signature_text(fn, name):
    """What is inside the parentheses of the signature pybind11 put first in the docstring."""
    doc = (fn.__doc__ or "").lstrip()
    assert doc.startswith(name + "("), f"{name}: no signature in its docstring: {doc[:80]!r}"
    assert "Overloaded function" not in doc, f"{name}: overloads are not compared here"
    depth = 0
    for i, ch in enumerate(doc[len(name):], len(name)):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0:
            return doc[len(name) + 1:i]
    raise AssertionError(f"{name}: unbalanced signature {doc[:80]!r}")


def module_parameters(fn, name, method):
    """[(name or '*' / '**', has_default)] without self, from the docstring's signature."""
    out = []
    for part in split_top_level(signature_text(fn, name)):
        if part.startswith("**"):
            out.append(("**", False))
        elif part.startswith("*"):
            out.append(("*", False))
        else:
            out.append((re.split(r"[:=]", part, maxsplit=1)[0].strip(), "=" in part))
    if method:
        assert out and out[0][0] == "self", f"{name}: no self in {out}"
        out = out[1:]
    return out


def module_members(cls):
    """{name: kind} of what the class itself defines (__init__ and public names)."""
    out = {}
    for name, value in vars(cls).items():
        if name.startswith("_") and name != "__init__":
            continue
        if isinstance(value, staticmethod):
            out[name] = "staticmethod"
        elif isinstance(value, property):
            out[name] = "property" if value.fset is None else "attribute"
        elif callable(value):
            out[name] = "method"
    return out


MODULE_CLASSES = {n for n in dir(_core) if not n.startswith("_") and inspect.isclass(getattr(_core, n))}
MODULE_FUNCTIONS = {n for n in dir(_core) if not n.startswith("_") and n not in MODULE_CLASSES
                    and callable(getattr(_core, n))}
MODULE_ATTRIBUTES = {n for n in dir(_core) if not n.startswith("_")
                     and n not in MODULE_CLASSES | MODULE_FUNCTIONS} | (
    {"__version__"} if hasattr(_core, "__version__") else set())


# ---- the comparisons ---------------------------------------------------------------------------

def test_the_same_classes_functions_and_attributes():
    assert sorted(STUB_CLASSES) == sorted(MODULE_CLASSES), "classes"
    assert sorted(STUB_FUNCTIONS) == sorted(MODULE_FUNCTIONS), "module functions"
    assert sorted(STUB_ATTRIBUTES) == sorted(MODULE_ATTRIBUTES), "module attributes"


@pytest.mark.parametrize("name", sorted(STUB_CLASSES))
def test_class_bases(name):
    real = {c.__name__ for c in getattr(_core, name).__mro__}
    for base in STUB_CLASSES[name].bases:
        assert isinstance(base, ast.Name) and base.id in real, f"{name}: stub base {ast.dump(base)}"


@pytest.mark.parametrize("name", sorted(STUB_CLASSES))
def test_class_members(name):
    stub = {k: kind for k, (kind, _) in stub_members(STUB_CLASSES[name]).items()}
    real = module_members(getattr(_core, name))
    only_stub = {k: v for k, v in stub.items() if k not in real}
    only_module = {k: v for k, v in real.items() if k not in stub}
    assert not only_stub and not only_module, (
        f"{name}: in the stub only {only_stub}; in the module only {only_module}")
    differ = {k: (stub[k], real[k]) for k in stub if stub[k] != real[k]}
    assert not differ, f"{name}: (stub kind, module kind) {differ}"


def callables():
    """(label, stub FunctionDef, module object, its name, is a method) of every function."""
    out = [(f, STUB_FUNCTIONS[f], getattr(_core, f), f, False)
           for f in sorted(STUB_FUNCTIONS) if f in MODULE_FUNCTIONS]
    for c in sorted(STUB_CLASSES):
        cls = getattr(_core, c, None)
        for m, (kind, node) in sorted(stub_members(STUB_CLASSES[c]).items()):
            if kind in ("method", "staticmethod") and cls is not None and m in vars(cls):
                out.append((f"{c}.{m}", node, getattr(cls, m), m, kind == "method"))
    return out


@pytest.mark.parametrize("label,node,fn,name,method", callables(), ids=[c[0] for c in callables()])
def test_parameters(label, node, fn, name, method):
    stub = stub_parameters(node)
    real = module_parameters(fn, name, method)
    unnamed = [n for n, _ in real if re.fullmatch(r"arg\d+", n)]
    assert not unnamed, f"{label}: bound without py::arg names: {unnamed}"
    # A **kwargs' or *args' own name is no part of the interface.
    assert stub == real, f"{label}: (name, has default) stub {stub} vs module {real}"


def literal_values(annotation):
    if (isinstance(annotation, ast.Subscript) and isinstance(annotation.value, ast.Name)
            and annotation.value.id == "Literal"):
        elts = annotation.slice.elts if isinstance(annotation.slice, ast.Tuple) else [annotation.slice]
        return {e.value for e in elts}
    return None


def literal_settings():
    out = []
    for c in sorted(STUB_CLASSES):
        for m, (kind, node) in sorted(stub_members(STUB_CLASSES[c]).items()):
            if kind == "attribute" and literal_values(node.annotation) is not None:
                out.append((c, m, literal_values(node.annotation)))
    return out


@pytest.mark.parametrize("cls,setting,values", literal_settings(),
                         ids=[f"{c}.{s}" for c, s, _ in literal_settings()])
def test_literal_settings_name_what_the_setter_accepts(cls, setting, values):
    obj = getattr(_core, cls)()
    for v in sorted(values):
        setattr(obj, setting, v)
        assert getattr(obj, setting) == v
    with pytest.raises(ValueError) as refused:
        setattr(obj, setting, "no-such-name")
    listed = re.search(r"expected (.*)\)", str(refused.value))
    assert listed, f"{cls}.{setting}: no 'expected ...' in {refused.value}"
    accepted = set(re.split(r", | or ", listed.group(1)))
    assert accepted == values, f"{cls}.{setting}: the setter takes {accepted}, the stub {values}"


def test_modelspec_init_literal():
    init = next(node for kind, node in stub_members(STUB_CLASSES["ModelSpec"]).values()
                if kind == "method" and node.name == "__init__")
    values = literal_values(next(a.annotation for a in init.args.args if a.arg == "init"))
    for v in values:
        assert _core.ModelSpec([2, 2], init=v).init == v
    with pytest.raises(ValueError, match=r"expected (.*)\)") as refused:
        _core.ModelSpec([2, 2], init="no-such-init")
    listed = re.search(r"expected (.*)\)", str(refused.value)).group(1)
    assert set(re.split(r", | or ", listed)) == values

"""Read the installed ``stripe`` SDK's typed resource classes from their source.

The SDK declares every field of every object as a class-level annotation followed by an
attribute docstring::

    class Charge(...):
        OBJECT_NAME: ClassVar[Literal["charge"]] = "charge"
        class BillingDetails(StripeObject):
            address: Optional[Address]
            \"\"\"Billing address.\"\"\"
        customer: Optional[ExpandableField["Customer"]]
        \"\"\"ID of the customer this charge is for if one exists.\"\"\"

Attribute docstrings are not visible at runtime and ``typing.get_type_hints`` fails on the
forward references (they name classes imported only under ``TYPE_CHECKING``), so each module
is parsed once with :mod:`ast` and names are resolved the way Python would: the class body,
then the module's globals (its classes and imports, ``TYPE_CHECKING`` ones included). Nothing
is imported; a module is parsed only when one of its classes is expanded (about 45 modules,
some 0.2 s, for the default catalog), and a reference is named from the SDK's registry of
object classes without parsing its target.

Annotations become :data:`Shape` values, a small vocabulary the flattener turns into fields.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from mappings.errors import SchemaError


@dataclass(frozen=True, slots=True)
class ClassRef:
    """A class in the SDK source: its module and dotted name (``Charge.BillingDetails``)."""

    module: str
    qualname: str

    @property
    def name(self) -> str:
        return self.qualname.rsplit(".", 1)[-1]


# -- shapes: what an annotation says a field holds -------------------------------------------


@dataclass(frozen=True, slots=True)
class Prim:
    """A scalar: ``str``, ``int``, ``bool``, ``float`` or ``Any``."""

    name: str


@dataclass(frozen=True, slots=True)
class Enum:
    """``Literal[...]``; ``open`` when unioned with ``str`` (Stripe may add values)."""

    values: tuple[str, ...]
    open: bool = False


@dataclass(frozen=True, slots=True)
class Nested:
    """An embedded object: one class, or a union of classes (``Union["Card", "Source"]``)."""

    classes: tuple[ClassRef, ...]


@dataclass(frozen=True, slots=True)
class Ref:
    """``ExpandableField[X]``: an id that can be expanded into one of ``targets``."""

    targets: tuple[ClassRef, ...]


@dataclass(frozen=True, slots=True)
class ListOf:
    """``List[X]``: a JSON array."""

    item: Shape


@dataclass(frozen=True, slots=True)
class Page:
    """``ListObject[X]``: Stripe's list envelope (``data``, ``has_more``, ``url``)."""

    item: Shape


@dataclass(frozen=True, slots=True)
class MapOf:
    """``UntypedStripeObject[X]`` / ``Dict[str, X]``: free keys such as ``metadata``."""

    value: Shape


@dataclass(frozen=True, slots=True)
class Var:
    """A type variable of a generic class (``ListObject.data: List[T]``), bound when used."""

    name: str


@dataclass(frozen=True, slots=True)
class Unknown:
    """Anything else; the field is kept with kind ANY."""

    text: str


Shape = Prim | Enum | Nested | Ref | ListOf | Page | MapOf | Var | Unknown


@dataclass(frozen=True, slots=True)
class Annotation:
    shape: Shape
    nullable: bool
    text: str  # the annotation as written, forward-reference quotes dropped


@dataclass(frozen=True, slots=True)
class FieldDecl:
    """One annotated attribute of a class body."""

    name: str  # the Python attribute name
    key: str  # the JSON key (differs when the SDK remaps a keyword: ``from_`` -> ``from``)
    annotation: Annotation
    doc: str


@dataclass(frozen=True, slots=True)
class ClassInfo:
    ref: ClassRef
    doc: str
    object_name: str | None  # the ``OBJECT_NAME`` of an API resource, None for nested classes
    fields: tuple[FieldDecl, ...]


# Decimal fields (``unit_amount_decimal``) travel as decimal strings; they are numbers.
_SCALARS = {
    "str": "str",
    "int": "int",
    "bool": "bool",
    "float": "float",
    "Decimal": "Decimal",
    "Any": "Any",
}
# Longer Literals are abbreviated in the annotation text; every value is in the Enum shape.
_LITERAL_TEXT_LIMIT = 12
_LIST_HEADS = {"List", "list", "Sequence"}
_PAGE_HEADS = {"ListObject", "SearchResultObject"}
_MAP_HEADS = {"UntypedStripeObject", "Dict", "dict", "Mapping"}
_SKIP_HEADS = {"ClassVar", "Type", "type"}


class _NoneType:
    """The ``None`` member of a ``Union``/``Optional``."""


_NONE = _NoneType()


class _Module:
    """One parsed SDK module: its top-level classes, imported names and type variables."""

    def __init__(self, name: str, tree: ast.Module) -> None:
        self.name = name
        self.classes: dict[str, ast.ClassDef] = {}
        self.imports: dict[str, tuple[str, str]] = {}  # local name -> (module, name)
        self.typevars: set[str] = set()
        for node in _top_level(tree.body):
            if isinstance(node, ast.ClassDef):
                self.classes[node.name] = node
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    self.imports[alias.asname or alias.name] = (node.module, alias.name)
            elif isinstance(node, ast.Assign) and _is_typevar_call(node.value):
                self.typevars.update(t.id for t in node.targets if isinstance(t, ast.Name))


def _top_level(body: Iterable[ast.stmt]) -> Iterable[ast.stmt]:
    """Module statements, looking inside ``if TYPE_CHECKING:`` (and any other ``if``) blocks."""
    for node in body:
        if isinstance(node, ast.If):
            yield from _top_level(node.body)
            yield from _top_level(node.orelse)
        else:
            yield node


def _is_typevar_call(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "TypeVar"
    )


class SdkSource:
    """Lazily parsed modules of the installed SDK, and the classes and annotations in them."""

    def __init__(self, object_names: Mapping[ClassRef, str] | None = None) -> None:
        self._modules: dict[str, _Module] = {}
        self._classes: dict[ClassRef, ClassInfo] = {}
        # Class -> object name, from the SDK's own registry: naming the target of a reference
        # then needs no parse of the target's module.
        self._object_names = dict(object_names or {})

    # -- modules and classes ------------------------------------------------------------------

    def module(self, name: str) -> _Module:
        found = self._modules.get(name)
        if found is None:
            found = _Module(name, ast.parse(_module_source(name), filename=name))
            self._modules[name] = found
        return found

    def object_name(self, ref: ClassRef) -> str | None:
        """The ``object`` value of an API resource class; None for a nested class."""
        found = self._object_names.get(ref)
        return found if found is not None else self.info(ref).object_name

    def class_def(self, ref: ClassRef, hops: int = 3) -> ast.ClassDef:
        first, *rest = ref.qualname.split(".")
        module = self.module(ref.module)
        node = module.classes.get(first)
        if node is None and first in module.imports and hops > 0:  # a re-export
            target_module, target_name = module.imports[first]
            target = ClassRef(target_module, ".".join([target_name, *rest]))
            return self.class_def(target, hops - 1)
        for part in rest:
            if node is None:
                break
            node = _nested_class(node, part)
        if node is None:
            raise SchemaError(f"the stripe SDK has no class {ref.qualname} in {ref.module}")
        return node

    def info(self, ref: ClassRef) -> ClassInfo:
        """The fields, docstring and object name of a class, parsed once."""
        found = self._classes.get(ref)
        if found is None:
            found = self._read_class(ref)
            self._classes[ref] = found
        return found

    def _read_class(self, ref: ClassRef) -> ClassInfo:
        node = self.class_def(ref)
        remap = _field_remappings(node)
        object_name: str | None = None
        fields: list[FieldDecl] = []
        body = node.body
        for index, stmt in enumerate(body):
            if isinstance(stmt, ast.Assign) and _assigns(stmt, "OBJECT_NAME"):
                object_name = _constant_str(stmt.value)  # ``OBJECT_NAME = "list"``, unannotated
            if not isinstance(stmt, ast.AnnAssign) or not isinstance(stmt.target, ast.Name):
                continue
            name = stmt.target.id
            if name == "OBJECT_NAME":
                object_name = _constant_str(stmt.value)
                continue
            if name.startswith("_"):
                continue
            annotation = self.annotation(stmt.annotation, ref)
            if annotation is None:  # ClassVar / Type: not data
                continue
            doc = ""
            if index + 1 < len(body):
                following = body[index + 1]
                if isinstance(following, ast.Expr):
                    doc = _constant_str(following.value) or ""
            fields.append(FieldDecl(name, remap.get(name, name), annotation, inspect.cleandoc(doc)))
        if object_name and not any(f.key == "object" for f in fields):
            # ListObject declares OBJECT_NAME but not the ``object`` key every payload has.
            fields.append(
                FieldDecl(
                    "object",
                    "object",
                    Annotation(Enum((object_name,)), False, f"Literal[{object_name!r}]"),
                    "String representing the object's type.",
                )
            )
        return ClassInfo(
            ref=ref,
            doc=inspect.cleandoc(ast.get_docstring(node, clean=False) or ""),
            object_name=object_name,
            fields=tuple(fields),
        )

    # -- names --------------------------------------------------------------------------------

    def resolve(self, dotted: str, scope: ClassRef) -> ClassRef | None:
        """The class a name in the body of ``scope`` refers to, as Python would find it."""
        first, _, rest = dotted.partition(".")
        base = self._resolve_first(first, scope)
        if base is None or not rest:
            return base
        candidate = ClassRef(base.module, f"{base.qualname}.{rest}")
        try:
            self.class_def(candidate)
        except SchemaError:
            return None
        return candidate

    def _resolve_first(self, name: str, scope: ClassRef) -> ClassRef | None:
        parts = scope.qualname.split(".")
        # The class body itself, then module globals (Python's rule), then enclosing class
        # bodies (never needed by generated code, but harmless as a last resort).
        chains = [parts] + [parts[:i] for i in range(len(parts) - 1, 0, -1)]
        for position, chain in enumerate(chains):
            owner = ClassRef(scope.module, ".".join(chain))
            if _nested_class(self.class_def(owner), name) is not None:
                return ClassRef(scope.module, f"{owner.qualname}.{name}")
            if position == 0:
                found = self._global(scope.module, name)
                if found is not None:
                    return found
        return None

    def _global(self, module: str, name: str) -> ClassRef | None:
        mod = self.module(module)
        if name in mod.classes:
            return ClassRef(module, name)
        imported = mod.imports.get(name)
        if imported is None or not imported[0].startswith("stripe."):
            return None
        # Trusted without parsing the other module: class_def follows a re-export if needed.
        return ClassRef(*imported)

    # -- annotations --------------------------------------------------------------------------

    def annotation(self, node: ast.expr, scope: ClassRef) -> Annotation | None:
        """What an annotation in the body of ``scope`` declares; None for ``ClassVar``."""
        head = _head(node)
        if head in _SKIP_HEADS:
            return None
        parsed = self._shape(node, scope)
        nullable = False
        if isinstance(parsed, _NoneType):
            parsed, nullable = Unknown("None"), True
        elif isinstance(parsed, tuple):  # (shape, nullable) from Optional / Union[..., None]
            parsed, nullable = parsed
        return Annotation(parsed, nullable, _annotation_text(node))

    def _shape(self, node: ast.expr, scope: ClassRef) -> Shape | _NoneType | tuple[Shape, bool]:
        if isinstance(node, ast.Constant):
            if node.value is None:
                return _NONE
            if isinstance(node.value, str):  # a forward reference
                try:
                    inner = ast.parse(node.value, mode="eval").body
                except SyntaxError:
                    return Unknown(node.value)
                return self._shape(inner, scope)
            return Unknown(repr(node.value))
        if isinstance(node, ast.Name | ast.Attribute):
            return self._named(ast.unparse(node), scope)
        if isinstance(node, ast.Subscript):
            return self._subscript(node, scope)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):  # X | None
            return self._union([node.left, node.right], scope)
        return Unknown(ast.unparse(node))

    def _named(self, dotted: str, scope: ClassRef) -> Shape | _NoneType:
        if dotted == "None":
            return _NONE
        if dotted in _SCALARS:
            return Prim(_SCALARS[dotted])
        if dotted in self.module(scope.module).typevars:
            return Var(dotted)
        ref = self.resolve(dotted, scope)
        return Nested((ref,)) if ref is not None else Unknown(dotted)

    def _subscript(self, node: ast.Subscript, scope: ClassRef) -> Shape | tuple[Shape, bool]:
        head = _head(node)
        args = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
        if head == "Optional":
            inner = self._union(args, scope)
            shape = inner[0] if isinstance(inner, tuple) else inner
            return (shape, True)
        if head == "Union":
            return self._union(args, scope)
        if head == "Literal":
            return Enum(tuple(str(_literal_value(a)) for a in args))
        if head == "ExpandableField":
            return Ref(_classes_of(self._plain(args[0], scope)))
        if head in _LIST_HEADS:
            return ListOf(self._plain(args[0], scope))
        if head in _PAGE_HEADS:
            return Page(self._plain(args[0], scope))
        if head in _MAP_HEADS:
            return MapOf(self._plain(args[-1], scope))
        return Unknown(ast.unparse(node))

    def _plain(self, node: ast.expr, scope: ClassRef) -> Shape:
        """A type argument, with nullability dropped (``List[Optional[str]]`` -> str)."""
        parsed = self._shape(node, scope)
        if isinstance(parsed, _NoneType):
            return Unknown("None")
        return parsed[0] if isinstance(parsed, tuple) else parsed

    def _union(self, members: list[ast.expr], scope: ClassRef) -> Shape | tuple[Shape, bool]:
        nullable = False
        shapes: list[Shape] = []
        for member in members:
            parsed = self._shape(member, scope)
            if isinstance(parsed, _NoneType):
                nullable = True
                continue
            if isinstance(parsed, tuple):
                nullable = nullable or parsed[1]
                parsed = parsed[0]
            shapes.append(parsed)
        shape = _merge_union(shapes, members)
        return (shape, True) if nullable else shape


def _merge_union(shapes: list[Shape], members: list[ast.expr]) -> Shape:
    if len(shapes) == 1:
        return shapes[0]
    if shapes and all(isinstance(s, Enum) or s == Prim("str") for s in shapes):
        values: list[str] = []
        for s in shapes:
            if isinstance(s, Enum):
                values.extend(v for v in s.values if v not in values)
        is_open = any(isinstance(s, Prim) for s in shapes)
        return Enum(tuple(values), open=is_open)
    if shapes and all(isinstance(s, Nested) for s in shapes):
        return Nested(tuple(ref for s in shapes if isinstance(s, Nested) for ref in s.classes))
    return Unknown(" | ".join(_annotation_text(m) for m in members))


def _classes_of(shape: Shape) -> tuple[ClassRef, ...]:
    return shape.classes if isinstance(shape, Nested) else ()


def _head(node: ast.expr) -> str:
    target = node.value if isinstance(node, ast.Subscript) else node
    if isinstance(target, ast.Name):
        return target.id
    if isinstance(target, ast.Attribute):
        return target.attr
    return ""


def _nested_class(node: ast.ClassDef, name: str) -> ast.ClassDef | None:
    for stmt in node.body:
        if isinstance(stmt, ast.ClassDef) and stmt.name == name:
            return stmt
    return None


def _assigns(stmt: ast.stmt, name: str) -> bool:
    return isinstance(stmt, ast.Assign) and any(
        isinstance(t, ast.Name) and t.id == name for t in stmt.targets
    )


def _constant_str(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _literal_value(node: ast.expr) -> object:
    if isinstance(node, ast.Constant):
        return node.value
    return ast.unparse(node)


def _field_remappings(node: ast.ClassDef) -> Mapping[str, str]:
    """``_field_remappings = {"from_": "from"}``: Python attribute -> JSON key."""
    for stmt in node.body:
        targets: list[ast.expr] = []
        value: ast.expr | None = None
        if isinstance(stmt, ast.Assign):
            targets, value = list(stmt.targets), stmt.value
        elif isinstance(stmt, ast.AnnAssign):
            targets, value = [stmt.target], stmt.value
        named = any(isinstance(t, ast.Name) and t.id == "_field_remappings" for t in targets)
        if named and isinstance(value, ast.Dict):
            return {
                k: v
                for k, v in (
                    (_constant_str(key), _constant_str(val))
                    for key, val in zip(value.keys, value.values, strict=True)
                    if key is not None
                )
                if k is not None and v is not None
            }
    return {}


class _Unquote(ast.NodeTransformer):
    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if isinstance(node.value, str):
            return ast.Name(id=node.value, ctx=ast.Load())
        return node


def _annotation_text(node: ast.expr) -> str:
    """The annotation as text with forward-reference quotes dropped; Literal values kept."""
    if isinstance(node, ast.Subscript) and _head(node) == "Literal":
        values = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if len(values) > _LITERAL_TEXT_LIMIT:
            shown = ", ".join(ast.unparse(v) for v in values[:3])
            return f"Literal[{shown}, ... {len(values)} values]"
        return ast.unparse(node)
    if isinstance(node, ast.Subscript):
        head = ast.unparse(node.value)
        args = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
        return f"{head}[{', '.join(_annotation_text(a) for a in args)}]"
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return ast.unparse(_Unquote().visit(node))


def _module_source(name: str) -> str:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise SchemaError(f"the stripe SDK module {name} is not installed")
    with open(spec.origin, encoding="utf-8") as handle:
        return handle.read()

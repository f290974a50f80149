"""Every operation of the API and every value a client can send it, read from the NinjaAPI itself (the same
models ninja validates requests with), for the tests that hold the whole API to one rule."""

import re
import types
import typing
from dataclasses import dataclass, field

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from yiyang.api.main import api


@dataclass
class Operation:
    method: str
    path: str  # as in the OpenAPI document, e.g. /api/v1/elders/{elder_id}
    op: object  # ninja's Operation

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


def operations() -> list[Operation]:
    out = []
    # Building the URLs mounts the nested routers (an app's topic sub-routers); only then does `_routers`
    # list them all, each with its full prefix.
    api.urls  # noqa: B018
    for prefix, router in api._routers:
        for path, view in router.path_operations.items():
            for op in view.operations:
                clean = re.sub(r"\{(?:\w+:)?(\w+)\}", r"{\1}", path)
                full = "/api" + ("/" + prefix.strip("/") + "/" + clean.lstrip("/")).rstrip("/")
                for method in op.methods:
                    out.append(Operation(method, full, op))
    return out


@dataclass
class Leaf:
    """One scalar a client sends: `where` is the schema and field path, `kind` str, int or any."""

    operation: str
    model: type  # the pydantic model the field belongs to
    field: str
    kind: str
    metadata: list = field(default_factory=list)

    @property
    def schema(self) -> str:
        return self.model.__name__

    def bound(self, cls):
        return next((m for m in self.metadata if isinstance(m, cls)), None)


def _metadata_of(info: FieldInfo) -> list:
    return list(info.metadata)


def _leaves(annotation, metadata: list, where: tuple[type, str], op: str):
    schema, path = where
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        base, *extra = typing.get_args(annotation)
        more = []
        for m in extra:
            more.extend(m.metadata if isinstance(m, FieldInfo) else [m])
        yield from _leaves(base, metadata + more, where, op)
        return
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if arg is not type(None):
                yield from _leaves(arg, metadata, where, op)
        return
    if origin is typing.Literal:
        return
    if origin in (list, tuple, set, frozenset):
        for arg in typing.get_args(annotation):
            if arg is not Ellipsis:
                yield from _leaves(arg, [], (schema, path + "[]"), op)
        return
    if origin is dict:
        _key, value = typing.get_args(annotation)
        yield from _leaves(value, [], (schema, path + "{}"), op)
        return
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield from walk_model(annotation, op, prefix=path)
        return
    # Enumerations, booleans, dates, decimals and files are bounded by their type.
    if annotation is typing.Any:
        yield Leaf(op, schema, path, "any", metadata)
    elif annotation is str:
        yield Leaf(op, schema, path, "str", metadata)
    elif annotation is int:
        yield Leaf(op, schema, path, "int", metadata)


def walk_model(model: type[BaseModel], op: str, prefix: str = ""):
    for name, info in model.model_fields.items():
        path = f"{prefix}.{name}" if prefix else name
        yield from _leaves(info.annotation, _metadata_of(info), (model, path), op)


def input_leaves() -> list[Leaf]:
    """Every str, int and Any a client can send to any operation (query, path, body, form), nested included."""
    out = []
    for operation in operations():
        for model in operation.op.models:
            out.extend(walk_model(model, operation.label))
    return out


MaxLen, Ge, Gt, Le, Lt = (annotated_types.MaxLen, annotated_types.Ge, annotated_types.Gt, annotated_types.Le,
                          annotated_types.Lt)

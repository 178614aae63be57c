"""The sandbox Upwork's GraphQL endpoints: every document validated against an SDL file, run by
graphql-core, answered in the shape of the real service.

Upwork's GraphQL answers in graphql-java's style (its support pages quote "Validation error of type
MissingFieldArgument"; public clients quote "Validation error (UnusedVariable) : Unused variable
'x'"): HTTP 200, an ``errors`` list of ``{message, locations, extensions: {classification}}``
and ``data`` null when the document does not validate. This module gives the same answers for the
same mistakes: graphql-core applies all of the specification's validation rules (unknown fields,
unused or undefined variables, missing or unknown arguments, wrong types ...), and the messages
are phrased as graphql-java phrases them.

Fields marked ``@requiresLogin`` / ``@requiresVisitorScope`` in the SDL are refused for tokens
without that scope: the whole query is aborted ("ExecutionAborted"), as public code reports for
the visitor API. A field left out by ``@include(if: false)`` or ``@skip(if: true)`` is not read,
so it is not refused: Upwork's own job-details documents guard their logged-in fields that way.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from graphql import (
    FieldNode,
    GraphQLError,
    GraphQLIncludeDirective,
    GraphQLSchema,
    GraphQLSkipDirective,
    GraphQLSyntaxError,
    InlineFragmentNode,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    build_schema,
    execute,
    parse,
    validate,
    visit,
)
from graphql.language import BooleanValueNode, DocumentNode, VariableNode

SCHEMAS = Path(__file__).resolve().parent / "sandbox_schema"

#: What a token may read: a logged-in token everything, the homepage's visitor token all but the
#: logged-in fields, the search page's narrow token neither those nor the visitor-scope ones.
SCOPES = {"login": set(), "visitor": {"requiresLogin"}, "search": {"requiresLogin", "requiresVisitorScope"}}

# graphql-core's message -> (graphql-java's classification, its message)
_JAVA_STYLE = [
    (re.compile(r"Cannot query field '(\w+)' on type '(\w+)'"), "FieldUndefined",
     lambda m: f"Field '{m[1]}' in type '{m[2]}' is undefined"),
    (re.compile(r"Variable '\$(\w+)' is never used"), "UnusedVariable", lambda m: f"Unused variable '{m[1]}'"),
    (re.compile(r"Variable '\$(\w+)' is not defined"), "UndefinedVariable", lambda m: f"Undefined variable '{m[1]}'"),
    (re.compile(r"Unknown argument '(\w+)' on field '[\w.]*?(\w+)'"), "UnknownArgument",
     lambda m: f"Unknown field argument '{m[1]}'"),
    (re.compile(r"Field '(\w+)' argument '(\w+)' of type '([^']+)' is required"), "MissingFieldArgument",
     lambda m: f"Missing field argument '{m[2]}'"),
    (re.compile(r"Unknown type '(\w+)'"), "UnknownType", lambda m: f"Unknown type '{m[1]}'"),
    (re.compile(r"Field '(\w+)' of type '([^']+)' must have a selection of subfields"), "SubselectionRequired",
     lambda m: f"Subselection required for type '{m[2]}' of field '{m[1]}'"),
    (re.compile(r"Field '(\w+)' must not have a selection since type '([^']+)' has no subfields"),
     "SubselectionNotAllowed", lambda m: f"Subselection not allowed on leaf type '{m[2]}' of field '{m[1]}'"),
    (re.compile(r"Variable '\$(\w+)' of type '([^']+)' used in position expecting type '([^']+)'"),
     "VariableTypeMismatch", lambda m: f"Variable type '{m[2]}' doesn't match expected type '{m[3]}'"),
]


def _locations(error: GraphQLError) -> list[dict]:
    return [{"line": loc.line, "column": loc.column} for loc in error.locations or []]


def _validation_error(error: GraphQLError) -> dict:
    for pattern, kind, message in _JAVA_STYLE:
        match = pattern.search(error.message)
        if match:
            return {"message": f"Validation error ({kind}) : {message(match)}", "locations": _locations(error),
                    "extensions": {"classification": "ValidationError"}}
    return {"message": f"Validation error : {error.message}", "locations": _locations(error),
            "extensions": {"classification": "ValidationError"}}


@lru_cache(maxsize=4)
def load_schema(name: str) -> GraphQLSchema:
    return build_schema((SCHEMAS / f"{name}.graphql").read_text(encoding="utf-8"))


@lru_cache(maxsize=256)
def _checked(name: str, query: str) -> tuple[DocumentNode | None, tuple[dict, ...]]:
    """The parsed document and its validation errors (the client's documents are constants:
    each is parsed and validated once)."""
    try:
        document = parse(query)
    except GraphQLSyntaxError as error:
        return None, ({"message": f"Invalid Syntax : {error.message}", "locations": _locations(error),
                       "extensions": {"classification": "InvalidSyntax"}},)
    return document, tuple(_validation_error(e) for e in validate(load_schema(name), document))


def _condition(directive, variables: dict) -> bool | None:
    """The value of a directive's ``if`` argument: a literal, or a variable's value."""
    for argument in directive.arguments or ():
        if argument.name.value == "if":
            value = argument.value
            if isinstance(value, VariableNode):
                return variables.get(value.name.value) is True
            if isinstance(value, BooleanValueNode):
                return value.value
    return None


def _included(node, variables: dict) -> bool:
    """Whether ``@skip`` / ``@include`` keep the node, with the request's variables (the document
    validated, so ``if`` is there and boolean)."""
    for directive in node.directives or ():
        name = directive.name.value
        if name == GraphQLSkipDirective.name and _condition(directive, variables) is True:
            return False
        if name == GraphQLIncludeDirective.name and _condition(directive, variables) is False:
            return False
    return True


class _ScopeCheck(Visitor):
    """Finds the first field the token may not read, honouring @include / @skip."""

    def __init__(self, type_info: TypeInfo, variables: dict, refused: set[str]):
        super().__init__()
        self.type_info, self.variables, self.refused = type_info, variables, refused
        self.found: tuple[FieldNode, str, str, str] | None = None

    def enter_inline_fragment(self, node: InlineFragmentNode, *_):
        return None if _included(node, self.variables) else self.SKIP

    def enter_field(self, node: FieldNode, *_):
        if not _included(node, self.variables):
            return self.SKIP
        field = self.type_info.get_field_def()
        parent = self.type_info.get_parent_type()
        if field is None or field.ast_node is None:
            return None
        for directive in field.ast_node.directives or ():
            if directive.name.value in self.refused:
                self.found = (node, node.name.value, parent.name if parent else "?", directive.name.value)
                return self.BREAK
        return None


def _scope_error(schema: GraphQLSchema, document: DocumentNode, variables: dict, scope: str) -> dict | None:
    refused = SCOPES[scope]
    if not refused:
        return None
    type_info = TypeInfo(schema)
    check = _ScopeCheck(type_info, variables, refused)
    visit(document, TypeInfoVisitor(type_info, check))
    if check.found is None:
        return None
    node, field, parent, directive = check.found
    needs = "a logged-in token" if directive == "requiresLogin" else "the visitor token of the home page"
    location = node.loc.source.get_location(node.loc.start) if node.loc else None
    return {"message": f"Execution aborted: field '{field}' of type '{parent}' requires {needs} "
                       "(not enough oauth2 permissions/scopes)",
            "locations": [{"line": location.line, "column": location.column}] if location else [],
            "extensions": {"classification": "ExecutionAborted"}}


def run(name: str, payload: Any, scope: str, root: dict) -> dict:
    """The JSON answer (always HTTP 200) of the GraphQL endpoint ``name`` (an SDL file of
    ``sandbox_schema``) to ``payload``, for a token of ``scope``, resolving from ``root`` (a dict
    whose values may be callables ``(info, **arguments)``, as graphql-core's default resolver
    calls them)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        return {"errors": [{"message": "Invalid Syntax : the request has no query",
                            "extensions": {"classification": "InvalidSyntax"}}], "data": None}
    variables = payload.get("variables") or {}
    if not isinstance(variables, dict):
        return {"errors": [{"message": "Variables must be an object", "extensions": {"classification": "ValidationError"}}],
                "data": None}
    document, errors = _checked(name, payload["query"])
    if errors:
        return {"errors": list(errors), "data": None}
    schema = load_schema(name)
    aborted = _scope_error(schema, document, variables, scope)
    if aborted:
        return {"errors": [aborted], "data": None}
    result = execute(schema, document, root_value=root, variable_values=variables,
                     operation_name=payload.get("operationName"))
    answer: dict = {"data": result.data}
    if result.errors:
        answer["errors"] = [{"message": e.message, "locations": _locations(e), "path": e.path,
                             "extensions": {"classification": "DataFetchingException"
                                            if result.data is not None else "ValidationError"}}
                            for e in result.errors]
    return answer

"""The deployment's parameter schema, which the Prefect UI's run form is drawn from and which the
server checks every run's parameters against.

Prefect derives the schema from the flow's signature, the same for every project: the flow's
``parameters`` option would be a free-form mapping. Here it becomes the project's own parameters
for the deployment's Kedro environment, one field per key, typed from its value in
``parameters.yml`` and filled in with it (nested keys as nested fields), so the form shows
``top_n`` as an integer with 10 in it, and the server refuses ``top_n: "five"`` or a misspelt key
when the run is created, before any worker starts it. The schema is closed at every level: Prefect
accepts any extra key by default, and a run carrying one would end Crashed without saying why.

An option whose default is none (unset: prefect.yml or Kedro decides) is offered as its own type
alone, left empty: Prefect's form draws ``X or null`` as a switch whose null side reads
'Property is type "None"', and an enumeration behind it as free text instead of its choices.
Leaving the field empty omits it, which is what none means; so a run never carries a none
(``options.without_unset`` drops one given on the command line or in prefect.yml).
"""

from __future__ import annotations

from typing import Any

FORM_FIELD = "parameters"
"""The flow parameter that carries a run's Kedro parameters (``RunOptions.parameters``)."""

_JSON_TYPES: tuple[tuple[type, str], ...] = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"))


def _json_type(value: Any) -> str | None:
    """The JSON schema type of a scalar (bool before int: ``True`` is an int in Python)."""
    return next((name for kind, name in _JSON_TYPES if isinstance(value, kind)), None)


def _field(value: Any, title: str) -> dict[str, Any] | None:
    """A form field for one parameter, or None when its value is not JSON (a date from YAML)."""
    if isinstance(value, dict):
        return _object(value, title)
    if isinstance(value, list):
        kinds = {_json_type(item) for item in value}
        if None in kinds and value:  # lists of mappings or lists, or of non-JSON values: edited as JSON
            if not _is_json(value):
                return None
            return {"title": title, "type": "array", "default": value}
        items = {"type": kinds.pop()} if len(kinds) == 1 else {}
        return {"title": title, "type": "array", "items": items, "default": value}
    if value is None:
        return {"title": title, "default": None}
    kind = _json_type(value)
    if kind is None:
        return None
    return {"title": title, "type": kind, "default": value}


def _object(values: dict[str, Any], title: str) -> dict[str, Any]:
    properties = {}
    for position, (key, value) in enumerate(values.items()):
        field = _field(value, key) if isinstance(key, str) else None  # {1: 0.5}: JSON has no such key
        if field is not None:
            properties[key] = {**field, "position": position}
    shown = {key: values[key] for key in properties}
    return {
        "title": title,
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
        "default": shown,
    }


def _is_json(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(key, str) and _is_json(item) for key, item in value.items())
    if isinstance(value, list):
        return all(_is_json(item) for item in value)
    return value is None or _json_type(value) is not None


def parameters_field(kedro_parameters: dict[str, Any], description: str) -> dict[str, Any]:
    """The schema of the flow's ``parameters`` option for a project whose parameters are these."""
    return {**_object(kedro_parameters, FORM_FIELD), "description": description}


def _unset_when_empty(field: dict[str, Any]) -> dict[str, Any]:
    """An optional option (``X | None``, default none) as ``X`` with no default; others as they are."""
    choices = field.get("anyOf", [])
    given = [choice for choice in choices if choice.get("type") != "null"]
    if "default" not in field or field["default"] is not None or len(given) != 1 or len(choices) != 2:
        return field
    kept = {key: value for key, value in field.items() if key not in ("anyOf", "default")}
    return {**given[0], **kept}


def closed_schema(schema: dict[str, Any], kedro_parameters: dict[str, Any] | None) -> dict[str, Any]:
    """The flow's schema as Prefect made it, closed to unknown parameters, each optional option
    shown as its own type, with the project's parameters as the fields of ``parameters`` (one
    free-form field when they could not be read)."""
    properties = {name: _unset_when_empty(field) for name, field in schema.get("properties", {}).items()}
    if kedro_parameters is not None and FORM_FIELD in properties:
        generic = properties[FORM_FIELD]
        field = parameters_field(kedro_parameters, generic.get("description", ""))
        properties[FORM_FIELD] = {**field, "position": generic.get("position", 0)}
    return {**schema, "properties": properties, "additionalProperties": False}


def form_refusal(values: Any, kedro_parameters: dict[str, Any]) -> str | None:
    """What the server would say of a run's ``parameters`` value under this form (None: accepted):
    Prefect's own validation, so ``make deploy`` refuses in prefect.yml what runs would be refused."""
    from prefect.utilities.schema_tools import ValidationError, validate

    schema = {"type": "object", "properties": {FORM_FIELD: parameters_field(kedro_parameters, "")}}
    try:
        validate({FORM_FIELD: values}, schema, raise_on_error=True)
    except ValidationError as error:
        return str(error)
    return None

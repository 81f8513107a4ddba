"""The OpenAPI description of a multipart request, read from a Django form's fields.

The create endpoint binds ``TransferForm`` itself, so its documentation is made
from the same form: a field added to the form appears in the schema by itself.
"""
from django import forms


def multipart_body(form):
    """An OpenAPI ``requestBody`` for posting ``form`` as multipart/form-data."""
    properties = {name: _property(field) for name, field in form.fields.items() if not field.disabled}
    required = [name for name, field in form.fields.items() if field.required and not field.disabled]
    schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return {"required": True, "content": {"multipart/form-data": {"schema": schema}}}


def _property(field):
    described = {"description": str(field.help_text)} if field.help_text else {}
    if field.label:
        described["title"] = str(field.label)
    return {**_type(field), **described}


def _type(field):
    if isinstance(field, forms.FileField):
        return {"type": "string", "format": "binary"}
    if isinstance(field, forms.BooleanField):
        return {"type": "boolean"}
    if isinstance(field, forms.ModelChoiceField):
        return {"type": "integer", "description": "An id from GET /api/presets."}
    if isinstance(field, forms.ChoiceField):
        values = [value for value, _ in field.choices if value != ""]
        kind = "integer" if getattr(field, "coerce", None) is int else "string"
        return {"type": kind, "enum": [int(value) if kind == "integer" else str(value) for value in values]}
    if isinstance(field, forms.IntegerField):
        bounds = {"minimum": field.min_value} if field.min_value is not None else {}
        if field.max_value is not None:
            bounds["maximum"] = field.max_value
        return {"type": "integer", **bounds}
    if isinstance(field, forms.UUIDField):
        return {"type": "string", "format": "uuid"}
    return {"type": "string"}

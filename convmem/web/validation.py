"""Turns pydantic validation failures into one clear message naming the field and the rule."""

from convmem.web.errors import Code


def _location(loc) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    # pydantic tags union members and function validators in the location; they mean nothing to a client.
    parts = [p for p in parts if not p.startswith("function-") and p not in ("str", "int", "bool", "float", "list[union[str,int,bool]]")]
    return ".".join(parts) or "body"


def describe_validation_error(errors: list[dict]) -> tuple[Code, str]:
    first = errors[0]
    kind = first.get("type", "")
    if kind == "json_invalid":
        return Code.MALFORMED_JSON, "Request body is not valid JSON"
    where = _location(first.get("loc", ()))
    if kind == "missing" and where == "body":
        return Code.BAD_REQUEST, "Request body is required and must be a JSON object"
    if kind in ("model_attributes_type", "dict_type") and where == "body":
        return Code.BAD_REQUEST, "Request body must be a JSON object"
    if kind == "string_unicode":
        # Only a lone surrogate escape (\ud800) gets here: no UTF-8 text can hold one.
        return Code.BAD_REQUEST, f"Invalid '{where}': must not contain a lone surrogate (an unpaired \\uD800-\\uDFFF escape)"
    if kind == "extra_forbidden":
        return Code.BAD_REQUEST, f"Unknown field '{where}'"
    if kind == "string_pattern_mismatch" and first.get("loc", ("",))[0] == "path":
        return Code.INVALID_ID, f"Invalid {where}: '{first.get('input')}' does not match {first['ctx']['pattern']}"
    message = first.get("msg", "invalid value")
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    return Code.BAD_REQUEST, f"Invalid '{where}': {message}"

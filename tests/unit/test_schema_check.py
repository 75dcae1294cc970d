"""Checking documents against registered schemas: the schema's content decides, not its name."""

from crossroads.services.schema_check import first_error


def test_a_changed_schema_is_used_at_once_and_the_first_error_names_its_path():
    strict = {
        "type": "object",
        "properties": {"a": {"type": "object", "properties": {"b": {"type": "integer"}}}},
    }
    loose = {"type": "object"}
    document = {"a": {"b": "x"}}
    assert first_error(strict, document) == (["a", "b"], '"x" is not of type "integer"')
    assert first_error(loose, document) is None
    assert (
        first_error(dict(reversed(list(strict.items()))), document) is not None
    )  # key order does not matter

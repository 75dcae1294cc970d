"""The pages' Jinja environment reads `row.name` on a dict as the key at once, and answers what
Jinja's own order (the attribute, then the key) answers."""

from __future__ import annotations

from collections import OrderedDict

from jinja2 import Environment

from crossroads.templates import PageEnvironment, environment

TEMPLATE = (
    "{{ d.name }}|{{ d.missing is undefined }}|{{ d.items() | list }}|{{ d.keys is callable }}"
    "|{{ d.get('name') }}|{{ o.name }}|{{ o.missing is undefined }}|{{ s.upper() }}|{{ n.x }}"
)


def _rendered(env: Environment) -> str:
    data = {"name": "Ann", "keys": "shadowed by the method", "items": 3}
    return env.from_string(TEMPLATE).render(
        d=data, o=OrderedDict(name="Bob"), s="text", n={"x": None}
    )


def test_dict_attributes_read_as_jinja_reads_them():
    assert _rendered(PageEnvironment()) == _rendered(Environment())
    assert _rendered(PageEnvironment()).startswith("Ann|True|")


def test_the_portals_environments_are_page_environments():
    assert isinstance(environment("nl"), PageEnvironment)

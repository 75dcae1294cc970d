"""The hub's app sets its process's collector up for serving while it serves (each worker of
`crossroads serve` runs this lifespan), and puts it back when it stops."""

import gc

import pytest

from crossroads.bootstrap import bootstrap
from crossroads.entrypoints.api.app import create_app
from crossroads.entrypoints.serving_collector import YOUNG_GENERATION_THRESHOLD

from ..conftest import make_settings

pytestmark = pytest.mark.anyio


async def test_a_started_hub_collects_its_young_generation_seldom(tmp_path):
    before = gc.get_threshold()
    settings = make_settings(tmp_path)
    hub = await bootstrap(settings, create_keys=True)
    app = create_app(settings, hub=hub)
    try:
        async with app.router.lifespan_context(app):
            assert gc.get_threshold()[0] == YOUNG_GENERATION_THRESHOLD
            assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == before
    finally:
        await hub.close()  # the lifespan closes only a hub it built itself

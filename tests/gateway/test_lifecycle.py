"""The control plane's lifespan: nginx starts with it and stops with it, and stays stopped."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.support.gateway import GatewayApp
from tests.support.servers import serving


def test_nginx_stays_stopped_when_a_sync_is_in_flight_at_shutdown(
    gateway_app: GatewayApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, settings = gateway_app.app, gateway_app.settings
    controller, nginx = app.state.controller, app.state.nginx
    real_sync, real_stop = controller.sync, nginx.stop
    hold, in_flight, stopped, returned = (threading.Event() for _ in range(4))

    def slow_sync() -> Any:
        """The periodic sync, caught reading the database while the gateway shuts down."""
        if not hold.is_set():
            return real_sync()
        in_flight.set()
        try:
            # Lets nginx.stop go first if the shutdown does not wait for this sync (the bug);
            # a shutdown that waits leaves this to give up, and the sync then sees nginx running.
            stopped.wait(2)
            return real_sync()
        finally:
            returned.set()

    def stop(*args: Any, **kwargs: Any) -> None:
        real_stop(*args, **kwargs)
        stopped.set()

    monkeypatch.setattr(controller, "sync", slow_sync)
    monkeypatch.setattr(nginx, "stop", stop)
    with serving(app, port=settings.listen_port):
        assert nginx.pid is not None
        hold.set()
        assert in_flight.wait(10), "the periodic sync did not run"
    assert returned.wait(10)
    left = nginx.pid
    if left is not None:
        real_stop()
    assert left is None, "a sync that finished after nginx.stop started nginx again"

"""Start a service's HTTP server from its settings."""

from __future__ import annotations

import ssl

import uvicorn

from govmobile.core.settings import ServiceSettings


def run(app_factory: str, settings: ServiceSettings) -> None:
    """Serve ``module:factory`` with uvicorn: TLS 1.2+ when a certificate is configured."""
    tls: dict[str, object] = {}
    if settings.tls_enabled():
        tls = {
            "ssl_certfile": str(settings.tls_cert_file),
            "ssl_keyfile": str(settings.tls_key_file),
            "ssl_version": ssl.PROTOCOL_TLS_SERVER,
            "ssl_ciphers": "ECDHE+AESGCM:ECDHE+CHACHA20",
        }
    uvicorn.run(
        app_factory,
        factory=True,
        host=settings.listen_host,
        port=settings.listen_port,
        workers=settings.workers,
        log_level=settings.log_level,
        # Identity and client addresses never come from forwarded headers by default:
        # the gateway sets what services may trust, explicitly.
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=10,
        **tls,  # type: ignore[arg-type]
    )

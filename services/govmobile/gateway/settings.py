"""The gateway's settings (environment prefix ``GOVMOBILE_GATEWAY_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from govmobile.core.settings import ServiceSettings, check_secret


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GOVMOBILE_GATEWAY_", extra="ignore", case_sensitive=False)

    #: The control plane (authorization sub-requests, routes API, JWKS); only nginx calls it.
    listen_host: str = "127.0.0.1"
    listen_port: int = 8004
    #: The name devices use; the public listener serves only this name (and route host names).
    public_hostname: str = "localhost"
    #: How devices reach the gateway (issuer of identity assertions). Default: https://<public_hostname>.
    public_url: str | None = None
    #: Where nginx listens inside the container (the host publishes 443 to it).
    public_listen: str = "0.0.0.0:8443"
    #: Inside the container; deployment publishes it on the management address only.
    management_listen: str = "0.0.0.0:9443"
    public_tls_cert: Path = Path("tls/public.crt")
    public_tls_key: Path = Path("tls/public.key")
    management_tls_cert: Path = Path("tls/management.crt")
    management_tls_key: Path = Path("tls/management.key")
    #: Issuing CA and root (PEM): device certificates must chain to these.
    client_ca_file: Path = Path("tls/client-ca.pem")
    #: The root's CRL (PEM), made on the controller where the root key lives.
    root_crl_file: Path = Path("tls/root-crl.pem")
    #: Trust bundle for TLS to the CA and MDM on the internal network.
    internal_ca_file: Path = Path("tls/root.crt")
    #: Trust store for HTTPS intranet apps without a route-specific CA.
    system_trust_file: Path = Path("/etc/ssl/certs/ca-certificates.crt")
    ca_url: str = "https://ca.govmobile.internal:8001"
    mdm_url: str = "https://mdm.govmobile.internal:8002"
    #: The app portal (issue 12); unset until a portal is deployed: nginx resolves every upstream
    #: at start, so a portal that is not there must not be named. Its admin paths then reach no one.
    portal_url: str | None = None
    #: The portal's repository directory (its volume, mounted read-only here): nginx sends the
    #: packages the portal authorises from it (X-Accel-Redirect to ``/_portal_files/``).
    portal_files_dir: Path | None = None
    #: The largest package upload passed to the portal (nginx size; the portal has its own limit).
    portal_max_upload: str = Field(default="300m", pattern=r"^[0-9]{1,6}[km]?$")
    #: The secret that proves to the MDM that a request came through this gateway.
    gateway_secret: SecretStr | None = None
    run_dir: Path = Path("/run/gateway")
    keys_dir: Path = Path("keys")
    nginx_binary: str = "/usr/sbin/nginx"
    #: Debian's dynamic nginx modules (libnginx-mod-http-lua and libnginx-mod-http-ndk).
    nginx_modules_dir: Path = Path("/usr/lib/nginx/modules")
    worker_processes: str = "auto"
    decision_ttl_seconds: int = Field(default=5, ge=1, le=60)
    #: nginx shared memory for refused certificates (about 130 bytes each: 32m holds some
    #: 250,000) and access versions; nothing in it is ever evicted.
    access_memory: str = Field(default="32m", pattern=r"^[1-9][0-9]{0,5}[km]$")
    #: nginx shared memory for cached decisions (about 1 KiB each, the assertion included); the
    #: least recently used make room.
    decision_memory: str = Field(default="32m", pattern=r"^[1-9][0-9]{0,5}[km]$")
    #: nginx shared memory for the portal's last answer to each certificate's desired-state fetch
    #: (about 200 bytes each: 16m holds some 60,000 devices); the least recently used make room,
    #: and a device whose entry went fetches from the portal again.
    document_memory: str = Field(default="16m", pattern=r"^[1-9][0-9]{0,5}[km]$")
    #: How often at most nginx is reloaded to re-read a changed CRL. Refusal does not wait for
    #: it (revoked certificates are refused per request from shared memory); the reload only
    #: moves the refusal into the TLS handshake, and drops idle keep-alive connections.
    crl_reload_seconds: float = Field(default=60.0, ge=0, le=3600)
    #: How often revocations, device changes and route changes are looked for.
    poll_interval_seconds: float = Field(default=1.0, gt=0, le=10)
    assertion_lifetime_seconds: int = Field(default=300, ge=30, le=300)
    key_rotation_hours: int = Field(default=24, ge=1)
    max_body_size: str = "16m"
    client_timeout_seconds: int = Field(default=10, ge=1, le=120)
    access_summary_seconds: float = Field(default=60.0, gt=0)
    #: Seconds to wait at start for the CA's first CRL before giving up.
    start_attempts: int = Field(default=60, ge=1)
    #: Also write every access line to the container's log (costs a write per request).
    log_to_stdout: bool = False

    @field_validator("gateway_secret")
    @classmethod
    def _secret(cls, value: SecretStr | None) -> SecretStr:
        return check_secret("gateway_secret", value)

    @field_validator("public_hostname")
    @classmethod
    def _hostname(cls, value: str) -> str:
        if not value or any(c in value for c in " ;{}'\"\\$"):
            raise ValueError("public_hostname must be a plain DNS name")
        return value.lower()

    def issuer(self) -> str:
        return (self.public_url or f"https://{self.public_hostname}").rstrip("/")

"""Real APKs for the portal's tests, built once per session with the Android SDK tools."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.apks import AppSpec, SigningKey, build_apk, make_signing_key, missing_tools


class ApkFactory:
    """Builds signed APKs on demand, each spec and key once per session."""

    def __init__(self, directory: Path, publisher: SigningKey, impostor: SigningKey) -> None:
        self.directory = directory
        self.publisher = publisher
        self.impostor = impostor
        self._built: dict[tuple[AppSpec, str], Path] = {}

    def build(self, spec: AppSpec | None = None, key: SigningKey | None = None) -> Path:
        spec = spec or AppSpec()
        key = key or self.publisher
        cache_key = (spec, key.name)
        if cache_key not in self._built:
            out = self.directory / f"{spec.package}-{spec.version_code}-{key.name}-{len(self._built)}.apk"
            self._built[cache_key] = build_apk(spec, key, out)
        return self._built[cache_key]


@pytest.fixture(scope="session")
def apks(tmp_path_factory: pytest.TempPathFactory) -> ApkFactory:
    missing = missing_tools()
    if missing:
        pytest.fail(
            f"the portal's tests build real APKs and need {', '.join(missing)} (scripts/unit-tests installs them)"
        )
    keys = tmp_path_factory.mktemp("signing-keys")
    return ApkFactory(
        tmp_path_factory.mktemp("apks"),
        make_signing_key(keys, "publisher"),
        make_signing_key(keys, "impostor"),
    )

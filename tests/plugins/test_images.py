"""How the images role names images and chooses what to build or remove (plugins/filter/govmobile_images.py)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.plugins.conftest import load_plugin

images = load_plugin("filter/govmobile_images.py")

CATALOGUE = {
    "app": {"groups": ["ca", "mdm", "gateway"], "debian_packages": []},
    "gateway": {"groups": ["gateway"], "debian_packages": ["nginx-light"]},
}
BASE = {
    "image": "",
    "mirror": "http://deb.debian.org/debian",
    "suite": "bookworm",
    "variant": "minbase",
    "components": ["main"],
    "packages": ["python3", "python3-venv"],
    "architecture": "amd64",
    "namespace": "govmobile",
    "recipe": "a" * 64,
}
INPUTS: dict[str, Any] = {
    "version": "0.1.0",
    "source_digests": ["b" * 64, "c" * 64],
    "wheel_inputs": ["d" * 64, "3.11", ["manylinux_2_17_x86_64"]],
    "namespace": "govmobile",
    "service_uid": 10001,
    "dockerfile": "e" * 64,
    "healthcheck": "f" * 64,
}


def refs(catalogue: dict = CATALOGUE, base: dict = BASE, **changes: Any) -> dict[str, str]:
    base_refs = images.image_base_refs(catalogue, base)
    return images.image_refs(catalogue, base_refs, **{**INPUTS, **changes})


def test_names_are_content_addressed_and_stable() -> None:
    named = refs()
    assert re.fullmatch(r"govmobile/app:0\.1\.0-[0-9a-f]{12}", named["app"])
    assert re.fullmatch(r"govmobile/gateway:0\.1\.0-[0-9a-f]{12}", named["gateway"])
    assert refs() == named  # the same inputs, the same names: nothing rebuilt


@pytest.mark.parametrize(
    "change",
    [
        {"version": "0.2.0"},
        {"source_digests": ["b" * 64, "0" * 64]},
        {"wheel_inputs": ["0" * 64, "3.11", ["manylinux_2_17_x86_64"]]},
        {"service_uid": 10002},
        {"dockerfile": "0" * 64},
        {"healthcheck": "0" * 64},
    ],
)
def test_any_changed_input_renames_every_image(change: dict) -> None:
    before, after = refs(), refs(**change)
    assert all(before[name] != after[name] for name in CATALOGUE)


def test_bases_are_shared_by_package_set_and_follow_the_recipe() -> None:
    bases = images.image_base_refs({**CATALOGUE, "portal": {"groups": ["portal"]}}, BASE)
    assert bases["app"] == bases["portal"]  # no extra packages: one base
    assert bases["gateway"] != bases["app"]
    assert bases["app"].startswith("govmobile/base:bookworm-")
    # A changed mirror or root-file-system recipe makes new bases, and so new images.
    assert images.image_base_refs(CATALOGUE, {**BASE, "recipe": "0" * 64})["app"] != bases["app"]
    assert refs(base={**BASE, "mirror": "http://mirror.example/debian"})["app"] != refs()["app"]
    # An operator's base image is used as it is.
    assert set(images.image_base_refs(CATALOGUE, {**BASE, "image": "site/debian:12"}).values()) == {
        "site/debian:12"
    }


def test_checksums_by_path_reads_sha256sum_output() -> None:
    lines = [
        "1" * 64 + "  /repo/requirements/server.txt",
        "2" * 64 + "  /repo/roles/images/files/make rootfs",
    ]
    assert images.checksums_by_path(lines) == {
        "/repo/requirements/server.txt": "1" * 64,
        "/repo/roles/images/files/make rootfs": "2" * 64,
    }


def test_a_host_wants_the_images_of_its_groups() -> None:
    assert images.wanted_images(CATALOGUE, ["ca", "mdm"]) == ["app"]
    assert images.wanted_images(CATALOGUE, ["gateway"]) == ["app", "gateway"]
    assert images.wanted_images(CATALOGUE, ["db"]) == []
    assert images.wanted_images(CATALOGUE, ["db"], True) == ["app", "gateway"]


def test_missing_images_are_those_without_their_tag() -> None:
    named = refs()
    present = [{"RepoTags": [named["app"], "govmobile/app:old"]}, {"RepoTags": None}]
    assert images.missing_images(["app", "gateway"], named, present) == ["gateway"]


def test_old_tags_keep_the_newest_and_what_is_wanted_or_in_use() -> None:
    listed = [
        {"Id": f"sha256:{n}", "Created": n, "RepoTags": [f"govmobile/app:0.1.0-{n:012d}"]}
        for n in range(1, 7)
    ] + [{"Id": "sha256:untagged", "Created": 99, "RepoTags": None}]
    wanted = ["govmobile/app:0.1.0-000000000001"]  # old, but named by the current inputs
    containers = [{"ImageID": "sha256:2"}]  # old, but a container runs it
    old = images.old_image_tags(listed, containers, wanted, 3)
    assert old == ["govmobile/app:0.1.0-000000000003"]

"""Filters of the images role: how images are named from their inputs, which a host needs, which
are missing and which are old enough to remove.

Names are content hashes: the same inputs always give the same tag (so an unchanged deployment
builds nothing, and a bundle made on one machine names what another computes), and any changed
input gives a new one. The hashes are of the JSON of a list of inputs, as Ansible's `to_json`
writes it, so these names are the ones the role's templates gave before they moved here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any


def _digest(inputs: list[Any]) -> str:
    return hashlib.sha256(json.dumps(inputs).encode()).hexdigest()


def checksums_by_path(sha256sum_lines: Iterable[str]) -> dict[str, str]:
    """`sha256sum` output lines ("<hex>  <path>") as {path: hex}."""
    sums = {}
    for line in sha256sum_lines:
        checksum, _, path = line.partition("  ")
        if path:
            sums[path] = checksum
    return sums


def image_base_refs(catalogue: dict[str, dict[str, Any]], base: dict[str, Any]) -> dict[str, str]:
    """Image name -> the base image it builds on: an operator's base image, or one debootstrapped
    base per distinct package set (images without extra packages share one).

    `base` holds image (the operator's, or empty), mirror, suite, variant, components, packages,
    architecture, namespace and recipe (the checksum of the script that makes root file systems).
    """
    refs = {}
    for name, image in catalogue.items():
        packages = sorted(set(base["packages"]) | set(image.get("debian_packages") or []))
        key = _digest(
            [
                base["mirror"],
                base["suite"],
                base["variant"],
                sorted(base["components"]),
                packages,
                base["architecture"],
                base["recipe"],
            ]
        )
        refs[name] = base["image"] or f"{base['namespace']}/base:{base['suite']}-{key[:12]}"
    return refs


def image_refs(
    catalogue: dict[str, dict[str, Any]],
    base_refs: dict[str, str],
    *,
    version: str,
    source_digests: list[str],
    wheel_inputs: list[Any],
    namespace: str,
    service_uid: int,
    dockerfile: str,
    healthcheck: str,
) -> dict[str, str]:
    """Image name -> its reference, `<namespace>/<name>:<version>-<hash of every input>`.

    The inputs: the version, each source tree's digest, the wheelhouse's inputs, the base, the
    image's Debian packages, the service uid, and the checksums of the Dockerfile template and
    the health check script.
    """
    refs = {}
    for name, image in catalogue.items():
        key = _digest(
            [
                version,
                source_digests,
                wheel_inputs,
                base_refs[name],
                name,
                sorted(image.get("debian_packages") or []),
                service_uid,
                dockerfile,
                healthcheck,
            ]
        )
        refs[name] = f"{namespace}/{name}:{version}-{key[:12]}"
    return refs


def wanted_images(
    catalogue: dict[str, dict[str, Any]], group_names: list[str], build_all: bool = False
) -> list[str]:
    """The catalogue's images a host needs: those of its inventory groups (or all, for bundles)."""
    return [
        name
        for name, image in catalogue.items()
        if build_all or set(image.get("groups") or []) & set(group_names)
    ]


def missing_images(wanted: list[str], refs: dict[str, str], present: list[dict[str, Any]]) -> list[str]:
    """The wanted images whose reference is not among the present ones (docker_image_info's images)."""
    tags = {tag for image in present for tag in image.get("RepoTags") or []}
    return [name for name in wanted if refs[name] not in tags]


def old_image_tags(
    images: list[dict[str, Any]], containers: list[dict[str, Any]], wanted: list[str], keep: int
) -> list[str]:
    """Tags to remove: per repository, all but the newest `keep`, never one wanted now nor one a
    container (running or not) uses. `images` and `containers` are docker_host_info's lists."""
    in_use = {container.get("ImageID") for container in containers}
    counted: dict[str, int] = {}
    old = []
    for image in sorted(images, key=lambda image: image.get("Created", 0), reverse=True):
        for tag in image.get("RepoTags") or []:
            repository = tag.rsplit(":", 1)[0]
            seen = counted.get(repository, 0)
            counted[repository] = seen + 1
            if seen >= keep and tag not in wanted and image.get("Id") not in in_use:
                old.append(tag)
    return old


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "checksums_by_path": checksums_by_path,
            "image_base_refs": image_base_refs,
            "image_refs": image_refs,
            "wanted_images": wanted_images,
            "missing_images": missing_images,
            "old_image_tags": old_image_tags,
        }

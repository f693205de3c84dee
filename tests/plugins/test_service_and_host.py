"""The service role's definition filters and the docker_host role's mount lookup."""

from __future__ import annotations

from tests.plugins.conftest import load_plugin

service = load_plugin("filter/govmobile_service.py")
host = load_plugin("filter/govmobile_host.py")


def test_unknown_keys_of_a_definition_are_named() -> None:
    definition = {"image": "x", "privileged": True, "user": "0:0"}
    assert service.unknown_keys(definition, ["image", "command"]) == ["privileged", "user"]


def test_the_environment_becomes_strings() -> None:
    assert service.container_environment({"PORT": 8001, "DEBUG": False, "NAME": "ca"}) == {
        "PORT": "8001",
        "DEBUG": "False",
        "NAME": "ca",
    }
    assert service.container_environment(None) == {}


def test_mounts_keep_only_what_docker_takes() -> None:
    volumes = [
        {
            "type": "volume",
            "source": "govmobile_ca",
            "target": "/var/lib/govmobile/ca",
            "owner": 10001,
            "mode": "0700",
        },
        {
            "type": "bind",
            "source": "/etc/govmobile/ca/tls",
            "target": "/etc/govmobile/tls",
            "read_only": True,
        },
    ]
    assert service.container_mounts(volumes) == [
        {"type": "volume", "source": "govmobile_ca", "target": "/var/lib/govmobile/ca", "read_only": False},
        {
            "type": "bind",
            "source": "/etc/govmobile/ca/tls",
            "target": "/etc/govmobile/tls",
            "read_only": True,
        },
    ]


def test_networks_are_named_by_the_deployment() -> None:
    names = {"internal": "govmobile-internal", "dmz": "govmobile-dmz"}
    networks = [{"name": "internal", "aliases": ["ca.govmobile.internal"]}, {"name": "dmz"}]
    assert service.container_networks(networks, names) == [
        {"name": "govmobile-internal", "aliases": ["ca.govmobile.internal"]},
        {"name": "govmobile-dmz", "aliases": []},
    ]


def test_the_mount_point_holding_a_path_that_may_not_exist() -> None:
    mounts = [{"mount": "/"}, {"mount": "/var"}, {"mount": "/var/lib/docker-old"}, {"mount": "/srv/"}]
    assert host.mount_point_of("/var/lib/docker", mounts) == "/var"
    assert host.mount_point_of("/srv/docker", mounts) == "/srv"
    assert host.mount_point_of("/opt/docker", mounts) == "/"
    assert host.mount_point_of("/var/lib/docker-old/x", mounts) == "/var/lib/docker-old"

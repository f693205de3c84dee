"""Every Jinja template of the roles renders, and every role default resolves, with undefined
variables treated as errors. Runs without a deployment (part of the unit suite)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

ROOT = Path(__file__).resolve().parents[2]
ROLES = sorted(p for p in (ROOT / "roles").iterdir() if (p / "defaults" / "main.yml").is_file())
TEMPLATES = sorted((ROOT / "roles").glob("*/templates/*.j2"))

# What Ansible itself provides while a play runs (magic variables, for the all-in-one host).
MAGIC: dict[str, Any] = {
    "playbook_dir": str(ROOT / "playbooks"),
    "inventory_hostname": "govmobile-aio",
    "group_names": ["ca", "gateway", "govmobile", "mdm"],
    "groups": {
        "all": ["govmobile-aio"],
        "govmobile": ["govmobile-aio"],
        "ca": ["govmobile-aio"],
        "mdm": ["govmobile-aio"],
        "gateway": ["govmobile-aio"],
    },
    "hostvars": {"govmobile-aio": {}},
    "ansible_managed": "Ansible managed",
    "ansible_playbook_python": str(ROOT / ".venv" / "bin" / "python"),
}

# Facts that tasks set before a template is rendered, per template (file name -> variables), in
# every combination the tasks can produce.
RUNTIME: dict[str, list[dict[str, Any]]] = {
    "Dockerfile.j2": [
        {
            "images_name": "app",
            "images_base_refs": {"app": "govmobile/base:bookworm-0123456789ab"},
            "images_refs": {"app": "govmobile/app:0.1.0-0123456789ab"},
            "images_app_wheel_names": [
                "govmobile-0.1.0-py3-none-any.whl",
                "govmobile_demo_office-0.1.0-py3-none-any.whl",
            ],
            "images_version_resolved": "0.1.0",
            "images_build_apt_packages": packages,
        }
        for packages in ([], ["nginx-light"])
    ],
}


def site_variables() -> dict[str, Any]:
    """The all-in-one inventory's variables, every role's defaults and the magic variables."""
    loader = DataLoader()
    variables: dict[str, Any] = dict(MAGIC)
    for role in ROLES:
        variables.update(loader.load_from_file(str(role / "defaults" / "main.yml"), trusted_as_template=True))
    inventory = loader.load_from_file(str(ROOT / "inventory" / "all-in-one.yml"), trusted_as_template=True)
    variables.update(inventory["all"]["vars"])
    variables.update(inventory["all"]["children"]["govmobile"]["vars"])
    return variables


def test_there_are_templates_and_roles() -> None:
    assert TEMPLATES
    assert {role.name for role in ROLES} >= {
        "docker_host",
        "images",
        "pki",
        "networks",
        "service",
        "ca",
        "mdm",
        "gateway",
        "demo_office",
    }


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_template_renders_with_every_variable_defined(template: Path) -> None:
    for runtime in RUNTIME.get(template.name, [{}]):
        templar = Templar(loader=DataLoader(), variables={**site_variables(), **runtime})
        rendered = templar.template(trust_as_template(template.read_text()))
        assert isinstance(rendered, str)
        assert "{{" not in rendered
        assert "{%" not in rendered


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_role_defaults_resolve(role: Path) -> None:
    variables = site_variables()
    templar = Templar(loader=DataLoader(), variables=variables)
    defaults = yaml.safe_load((role / "defaults" / "main.yml").read_text())
    for name in defaults:
        templar.template(variables[name])  # raises AnsibleUndefinedVariable on an unknown name


def test_role_interfaces_are_prefixed_and_typed() -> None:
    """defaults/main.yml is each role's documented interface: prefixed names, all in argument_specs."""
    for role in ROLES:
        defaults = yaml.safe_load((role / "defaults" / "main.yml").read_text())
        specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"][
            "options"
        ]
        meta = yaml.safe_load((role / "meta" / "main.yml").read_text())
        assert meta["dependencies"] == [], role.name
        for name in defaults:
            assert name.startswith(f"{role.name}_"), f"{role.name}: {name} lacks the role prefix"
            assert name in specs, f"{role.name}: {name} is not in meta/argument_specs.yml"

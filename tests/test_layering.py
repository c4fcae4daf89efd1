"""Packages import downwards only (the map's layering), checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: What each package may import from the project (besides itself).
ALLOWED = {
    "ontology": set(),
    "shapes": {"ontology"},
    "bioprocess": set(),
    "protocol": set(),
    "observability": set(),
    "site_node": {"bioprocess", "ontology", "shapes", "protocol", "observability"},
    "federation": {"bioprocess", "ontology", "shapes", "protocol", "observability"},
    "twinfed": {"bioprocess", "ontology", "shapes", "protocol", "observability", "site_node",
                "federation"},
}


def _project_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names & set(ALLOWED)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_downwards(package: str) -> None:
    folder = ROOT / package
    if not folder.is_dir():
        pytest.skip(f"{package}/ does not exist yet")
    offenders = {
        str(path.relative_to(ROOT)): sorted(bad)
        for path in folder.rglob("*.py")
        if (bad := _project_imports(path) - ALLOWED[package] - {package})
    }
    assert offenders == {}


def test_every_cli_command_has_help_and_is_in_the_readme() -> None:
    import typer.main

    from twinfed.cli import app

    readme = (ROOT / "README.md").read_text()
    command = typer.main.get_command(app)
    missing_help, undocumented = [], []

    def walk(group, prefix: str) -> None:  # noqa: ANN001 - click objects
        for name, sub in group.commands.items():
            path = f"{prefix} {name}"
            if not (sub.help or "").strip():
                missing_help.append(path)
            if hasattr(sub, "commands"):
                walk(sub, path)
            elif path not in readme:
                undocumented.append(path)

    walk(command, "twinfed")
    assert missing_help == []
    assert undocumented == []

"""Installing a provider plugin the way pip does, as far as entry points go: a
``*.dist-info`` directory with ``METADATA`` and ``entry_points.txt`` on ``sys.path``."""

from __future__ import annotations

from pathlib import Path

from providers import ENTRY_POINT_GROUP


def write_distribution(root: Path, name: str, entry_points: dict[str, str]) -> Path:
    dist = root / f"{name}-0.0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.0.1\n")
    lines = [f"[{ENTRY_POINT_GROUP}]"] + [f"{key} = {value}" for key, value in entry_points.items()]
    (dist / "entry_points.txt").write_text("\n".join(lines) + "\n")
    return dist

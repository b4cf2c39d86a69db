"""Development key material: made by devtools at startup, idempotently, safely when
several processes start at once; refused by the system checks in production."""

import ast
import subprocess
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from devtools import keys
from payments import checks

ROOT = Path(__file__).resolve().parent.parent.parent


def _files(directory: Path) -> dict[str, bytes]:
    return {
        path.name: path.read_bytes()
        for path in sorted(directory.iterdir())
        if not path.name.endswith(".lock")
    }


def _pairs_match(directory: Path) -> None:
    for name in keys.KEY_PAIRS:
        private = serialization.load_pem_private_key(
            keys.private_key_path(directory, name).read_bytes(), password=None
        )
        public = serialization.load_pem_public_key(keys.public_key_path(directory, name).read_bytes())
        assert private.public_key().public_numbers() == public.public_numbers(), name


def test_every_piece_is_made_once(tmp_path):
    directory = tmp_path / "keys"
    keys.dev_keys_ensure(directory)
    first = _files(directory)
    assert {f"{name}.key.pem" for name in keys.KEY_PAIRS} <= set(first)
    assert {keys.WECHATPAY_APIV3_KEY, keys.WECHATPAY_PLATFORM_CERT, keys.DEVELOPMENT_KEYS_MARKER} <= set(
        first
    )
    assert keys.private_key_path(directory, keys.ALIPAY_APP).stat().st_mode & 0o077 == 0
    _pairs_match(directory)

    keys.dev_keys_ensure(directory)
    assert _files(directory) == first  # nothing regenerated

    keys.private_key_path(directory, keys.SANDBOX_GATEWAY).unlink()  # one piece lost: only it is made
    keys.dev_keys_ensure(directory)
    again = _files(directory)
    assert again["sandbox-gateway.key.pem"] != first["sandbox-gateway.key.pem"]
    assert {k: v for k, v in again.items() if not k.startswith("sandbox-gateway")} == {
        k: v for k, v in first.items() if not k.startswith("sandbox-gateway")
    }
    _pairs_match(directory)


def test_processes_starting_at_once_agree_on_one_set(tmp_path):
    directory = tmp_path / "keys"
    code = f"from devtools.keys import dev_keys_ensure; dev_keys_ensure({str(directory)!r})"
    runs = [subprocess.Popen([sys.executable, "-c", code], cwd=ROOT) for _ in range(4)]
    assert [run.wait(timeout=120) for run in runs] == [0, 0, 0, 0]
    assert not [path for path in directory.iterdir() if path.name.endswith(".tmp")]
    _pairs_match(directory)
    material = keys.ensure_dev_material(directory)
    assert len(material.apiv3_key) == 32 and material.public_key_id.startswith("PUB_KEY_ID_")


def test_the_product_check_names_the_marker_devtools_writes():
    assert checks.DEVELOPMENT_KEYS_MARKER == keys.DEVELOPMENT_KEYS_MARKER


def test_the_simulators_notifier_never_imports_their_tasks():
    """Tasks import the notifier; the notifier sends the task by name (no cycle)."""
    source = (ROOT / "devtools" / "simulators" / "notifier.py").read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            imported.add("." * node.level + (node.module or ""))
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    assert not {name for name in imported if name.endswith("tasks") and name != "core.tasks"}
    assert "core.tasks" in imported

"""How a process refuses to start: what it would only find out later is found out at start."""

from __future__ import annotations

from pathlib import Path

import pytest

from ioc.app import cluster_process, load_catalog
from ioc.config import load_settings
from ioc.notify import NotifyConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_a_cluster_node_refuses_to_start_with_a_channel_not_configured(
    tmp_path: Path, postgres_url: str
) -> None:
    """Else the first takeover would fail, on whichever node leads next."""
    settings = load_settings(
        data_dir=tmp_path,
        state_url=postgres_url,
        inventory=ROOT / "tests" / "rules" / "testdata" / "inventory.yaml",
        notify_config=ROOT / "tests" / "notify" / "testdata" / "notify.yaml",  # e-mail, SMS
    )
    assert settings.clustered
    with pytest.raises(NotifyConfigError, match="teams use email needs IOC_SMTP_URL"):
        cluster_process(settings, load_catalog(settings), 5.0)

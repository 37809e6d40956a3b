"""The state database as operator commands use it: alerts, windows, tokens, notifications."""

from __future__ import annotations

from ioc.app._runtime import Runtime
from ioc.config import Settings
from ioc.domain import (
    ApiToken,
    Caller,
    ClusterStatus,
    MaintenanceWindow,
    Role,
    audited,
    token_created,
    token_revoked,
)
from ioc.state import NodeRegistry, cluster_status


def demo_records(settings: Settings) -> Settings:
    """Settings that read what the last `ioc demo` run recorded: its state database and its
    embedded telemetry, in the demo's folder of the data dir."""
    return settings.model_copy(update={"data_dir": settings.data_dir / "demo", "state_url": None})


class OperatorDesk:
    """The stores an operator command reads and writes, over the command's runtime."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self.alerts = runtime.alerts()
        self.tokens = runtime.tokens()
        self.audit = runtime.audit()
        self.outbox = runtime.outbox()
        self.dead_letters = runtime.dead_letters()

    def plan_window(
        self, window: MaintenanceWindow, now_ms: int, caller: Caller
    ) -> MaintenanceWindow:
        """Check a window against the catalog and the rules in force, and record it, in the
        audit trail too (BadInput for a target that does not exist or a period that is
        wrong)."""
        from ioc.alerts import plan_window

        runtime = self._runtime
        rule_ids = frozenset(rule.info.id for rule in runtime.rules.get())
        inventory = runtime.catalog.inventory
        return plan_window(self.alerts, inventory, rule_ids, window, now_ms, caller, self.audit)

    def create_token(
        self, role: Role, name: str, now_ms: int, expires_at_ms: int | None, caller: Caller
    ) -> tuple[ApiToken, str]:
        """A new token and its secret, in the audit trail too (never the secret)."""
        record, secret = self.tokens.create(
            role, name, now_ms, expires_at_ms, f"{caller.name} (cli)"
        )
        self.audit.record(token_created(record, caller))
        return record, secret

    def revoke_token(self, token_id: int, now_ms: int, caller: Caller) -> bool:
        """Revoke a live token, in the audit trail too; False if there is none."""
        revoked = self.tokens.revoke(token_id, now_ms, f"{caller.name} (cli)")
        if revoked:
            self.audit.record(token_revoked(token_id, now_ms, caller))
        return revoked

    def cluster(self, now_ms: int) -> ClusterStatus:
        """The cluster as the state database has it now."""
        settings = self._runtime.settings
        lease_ms, forget_ms = int(settings.lease_s * 1000), int(settings.node_forget_after_s * 1000)
        return cluster_status(self._runtime.state, now_ms, lease_ms, forget_ms)

    def forget_node(self, node: str, now_ms: int, caller: Caller) -> None:
        """Take a node off the cluster's list, in the audit trail too (NotFound; NodeInUse
        while it runs, or its ingest session is not yet adopted)."""
        lease_ms = int(self._runtime.settings.lease_s * 1000)
        NodeRegistry(self._runtime.state).forget(node, now_ms, lease_ms)
        self.audit.record(audited(caller, now_ms, "node.forget", f"node {node}", None, None))

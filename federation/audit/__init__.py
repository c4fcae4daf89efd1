"""The federation's tamper-evident audit trail: who did what, to what, when.

Call :meth:`AuditLog.record` (``actor, action, subject, details``) for every action of
record; ``app.state.audit`` holds the service's log and ``federation.api.roles.AuditDep``
hands it to a route. Action names are dotted, ``<area>.<verb>`` (``sync.push``,
``site.register``, ``query.sparql``, ``package.build``, ``signature.run``,
``model.register``, ``alignment.change``, ``auth.refused``); ``details`` is small JSON, never
a secret (scrubbed anyway).
"""

from pathlib import Path

from federation.audit.log import AuditEntry, AuditLog, Problem, Verification

__all__ = ["AuditEntry", "AuditLog", "Problem", "Verification", "audit_log_in"]


def audit_log_in(data: Path) -> AuditLog:
    """The audit log of the federation whose data directory is ``data``."""
    return AuditLog(data / "audit.jsonl")

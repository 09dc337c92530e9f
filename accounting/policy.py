"""Policy records: every refused or changed job, as the policy report shows it.

A change travels with the job (``NewJob.decision.policy``) and is written by
``JobStore.record_jobs`` in the same group-commit transaction as the job. A refusal has no
job to travel with: it waits in ``decisions.PendingPolicyRecords`` and is written with the
next group commit, or within about a second — either way intake pays no extra commit."""
from __future__ import annotations

from sqlalchemy import insert

from accounting.audit import audit
from accounting.schema import policy_records


def write_policy_record(conn, decision) -> None:
    record = decision.policy
    if record is None:
        return
    conn.execute(insert(policy_records).values(**record))
    audit(conn, actor=record["username"], source=record["workstation"], action=f"rule.{record['action']}",
          target=record["rule_name"], at=record["at"],
          new={"decision": decision.id, "changes": decision.changes, "price": decision.price_estimate,
               "document": record["document_name"]})

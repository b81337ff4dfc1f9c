"""What a digest says, and its one publish: the tick's grouped alerts of one event as one message for on-call.

The digest carries no `monitor_id` attribute (a subscriber filtering on its monitor never receives it) and no
`grouped_in` (on-call's policy `"grouped_in": [{"exists": false}]` receives it, and drops the per-monitor copies the
digest lists). An alert is marked grouped only when the digest that lists it was published: if the digest fails,
every per-monitor alert goes out unmarked, so on-call still receives each one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from retrain_trigger.errors import RetrainTriggerError
from retrain_trigger.outbox import Delivered
from retrain_trigger.policy.digest import Digest
from retrain_trigger.ports import ActionGateway, Alert

SHOWN = 50  # monitors the email text lists; the JSON body always lists every one


def digest_alert(digest: Digest) -> Alert:
    count = len(digest.alerts)
    when = digest.at.strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = [f"{count} monitors alerted {digest.event} in the tick of {when}:", ""]
    lines += [
        f"  {a.monitor_id}: score {'missing' if a.score is None else f'{a.score:g}'}, key {a.key}"
        for a in digest.alerts[:SHOWN]
    ]
    if count > SHOWN:
        lines.append(f"  ... and {count - SHOWN} more (every monitor and key is in the JSON body)")
    lines += [
        "",
        "Each monitor's own message is still published, with the attribute grouped_in set to this digest's key.",
        f"Key: {digest.key}",
    ]
    body = {
        "event": "digest",
        "grouped_event": digest.event,
        "severity": digest.severity,
        "tick": digest.at.isoformat(),
        "count": count,
        "monitors": [
            {
                "monitor_id": a.monitor_id,
                "idempotency_key": a.key,
                "score": a.score,
                "episode_id": a.episode_id,
                "reason": a.reason,
            }
            for a in digest.alerts
        ],
        "idempotency_key": digest.key,
    }
    return Alert(
        subject=f"[{digest.severity.upper()}] {count} monitors: {digest.event} (digest of {when})",
        text="\n".join(lines),
        payload=body,
        attributes={
            "severity": digest.severity,
            "event": "digest",
            "grouped_event": digest.event,
            "idempotency_key": digest.key,
        },
    )


@dataclass
class Sent:
    """What the tick's digests did: each grouped alert's key mapped to its published digest's key, and the log."""

    grouped: dict[str, str] = field(default_factory=dict)
    log: list[Delivered] = field(default_factory=list)


def publish_digests(found: Sequence[Digest], gateway: ActionGateway) -> Sent:
    """Publish each digest once. Only the alerts of a digest that went out are marked grouped."""
    sent = Sent()
    for digest in found:
        try:
            message_id = gateway.publish_alert(digest_alert(digest))
        except RetrainTriggerError as error:
            sent.log.append(Delivered("sns", digest.key, "failed", error=str(error)))
            continue
        sent.log.append(Delivered("sns", digest.key, "done", result=message_id))
        sent.grouped |= digest.grouped()
    return sent

"""C2PA content credentials of a media file, read offline: who made it with what, the actions,
whether it declares itself AI-generated, and whether its signature holds.

The words (the README's "Provenance" paragraph says the same):

- **state** ``valid``: a manifest store whose signatures and hashes check out (c2pa's
  ``validation_state`` ``Valid`` or ``Trusted``); ``invalid``: one that does not (a changed byte,
  a bad signature: ``Invalid``); ``absent``: no manifest in the file (a plain file, or a
  re-encoded one that lost it); ``unreadable``: not read (a type C2PA does not cover, a truncated
  file, over the size cap or the time or memory limit, a remote-only manifest — claimwatch reads
  offline). **Anything but valid is unknown provenance, never "authentic"**, and a valid manifest
  only says what its signer claims.
- **signer**: ``trusted`` (c2pa's ``Trusted``: a loaded trust list vouches for it),
  ``untrusted`` (``signingCredential.untrusted``: no trust list is loaded, or the signer is not
  on it) — a valid signature from a signer nobody vouched for is reported as such, not as
  invalid.
- **ai_declared**: True only when a *valid* manifest declares a ``digitalSourceType`` of
  ``trainedAlgorithmicMedia`` or ``compositeWithTrainedAlgorithmicMedia`` (IPTC's URI form or
  the bare term) in any manifest of the store — an AI image edited later in a human tool is still
  AI-made; False when a valid manifest declares neither; None (unknown) for every other state.

The parse runs in a child process (:mod:`claimwatch.media.c2pa_worker`) under an address-space and
CPU rlimit and a wall-clock timeout, after a size check: the parser is native code and every file
is hostile.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from claimwatch.media import c2pa_worker
from claimwatch.media.records import (
    Action,
    Provenance,
    ProvenanceState,
    SignerTrust,
    is_ai_source_type,
)
from claimwatch.store.media_provenance import stored_provenance

#: c2pa validation states that mean the manifest checks out (Trusted: also on a loaded trust list)
_VALID_STATES = frozenset({"Valid", "Trusted"})
UNTRUSTED = "signingCredential.untrusted"

#: the reader's JSON keys (c2pa ``Reader.json()``; see formats/c2pa_reader_json_*.json)
K_ACTIVE, K_MANIFESTS, K_ASSERTIONS, K_STATE = "active_manifest", "manifests", "assertions", "validation_state"
K_STATUS = "validation_status"


@dataclass(frozen=True)
class Limits:
    """Bounds on one read: the file's size, the child's address space and its time."""

    max_bytes: int = 500 * 2**20
    memory_bytes: int = 1024 * 2**20
    seconds: float = 20.0


DEFAULT_LIMITS = Limits()


def read_provenance(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> Provenance:
    """Read ``path``'s C2PA manifest offline, bounded by ``limits``. Never raises for what the
    file holds: a file that cannot be read is a :class:`Provenance` in state ``unreadable`` with
    the reason (an OSError on the path itself — missing, unreadable — is raised)."""
    path = Path(path)
    size = path.stat().st_size
    if size > limits.max_bytes:
        return _unreadable(f"{size:,} bytes, over the {limits.max_bytes:,}-byte cap for a C2PA read")
    try:
        done = subprocess.run(
            [sys.executable, "-I", c2pa_worker.__file__, str(path)],
            capture_output=True,
            timeout=limits.seconds,
            preexec_fn=lambda: _bound(limits),
            check=False,
        )
    except subprocess.TimeoutExpired:
        return _unreadable(f"the C2PA read took over {limits.seconds:g} s and was stopped")
    try:
        reply = json.loads(done.stdout)
    except ValueError:
        why = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
        return _unreadable(f"the C2PA reader failed ({why[0][:200]}; memory cap {limits.memory_bytes:,} bytes)")
    if not reply.get("ok"):
        return _from_error(reply)
    return from_report(json.loads(reply["report"]), reply.get("reader"))


def _bound(limits: Limits) -> None:
    """In the child before exec: cap its address space and CPU time (the timeout caps wall time)."""
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    cpu = int(limits.seconds) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))


def _unreadable(reason: str, reader: str | None = None) -> Provenance:
    return Provenance(ProvenanceState.UNREADABLE, reader_version=reader, reason=reason)


def _from_error(reply: dict[str, Any]) -> Provenance:
    """The worker's c2pa error: no manifest is ``absent``, anything else ``unreadable``."""
    error, message, reader = str(reply.get("error")), str(reply.get("message") or ""), reply.get("reader")
    if "ManifestNotFound" in error:
        return Provenance(ProvenanceState.ABSENT, reader_version=reader, reason="no C2PA manifest in the file")
    if "NotSupported" in error:
        return _unreadable("not a file type C2PA manifests are read from", reader)
    if "RemoteManifest" in error:
        return _unreadable("the manifest is remote and claimwatch reads offline: " + message, reader)
    return _unreadable(f"the C2PA reader refused it: {message}", reader)


def from_report(report: dict[str, Any], reader_version: str | None = None) -> Provenance:
    """A :class:`Provenance` from the reader's manifest-store JSON (``Reader.json()``)."""
    manifests = report.get(K_MANIFESTS) or {}
    active_label = report.get(K_ACTIVE)
    active = manifests.get(active_label) if isinstance(manifests, dict) else None
    if not isinstance(active, dict):
        return Provenance(
            ProvenanceState.ABSENT, reader_version=reader_version, raw=report, reason="no active manifest in the store"
        )
    codes = tuple(str(s.get("code")) for s in report.get(K_STATUS) or [] if isinstance(s, dict) and s.get("code"))
    state_word = report.get(K_STATE)
    # readers before validation_state listed failures only: valid when nothing but an untrusted signer
    valid = state_word in _VALID_STATES if state_word else set(codes) <= {UNTRUSTED}
    actions = tuple(
        a for label, m in manifests.items() if isinstance(m, dict) for a in _actions(label, m, label == active_label)
    )
    source_types = tuple(
        t for m in manifests.values() if isinstance(m, dict) for a in _assertions(m) for t in _source_types(a)
    )
    return Provenance(
        state=ProvenanceState.VALID if valid else ProvenanceState.INVALID,
        claim_generator=_claim_generator(active),
        actions=actions,
        digital_source_types=source_types,
        ai_declared=any(is_ai_source_type(t) for t in source_types) if valid else None,
        issuer=(active.get("signature_info") or {}).get("issuer"),
        signer=SignerTrust.TRUSTED
        if state_word == "Trusted"
        else SignerTrust.UNTRUSTED
        if UNTRUSTED in codes
        else None,
        validation=codes,
        reader_version=reader_version,
        raw=report,
        reason=None if valid else f"validation state {state_word or 'not given'}: " + ", ".join(codes or ("no codes",)),
    )


def _assertions(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for a in manifest.get(K_ASSERTIONS) or [] if isinstance(a, dict)]


def _actions(label: str, manifest: dict[str, Any], active: bool) -> Iterator[Action]:
    for a in _assertions(manifest):
        if not str(a.get("label", "")).startswith("c2pa.actions"):
            continue
        for act in (a.get("data") or {}).get("actions") or []:
            if isinstance(act, dict) and act.get("action"):
                yield Action(
                    str(act["action"]),
                    _text(act.get("digitalSourceType")),
                    _agent(act.get("softwareAgent")),
                    label,
                    active,
                )


def _source_types(value: Any) -> Iterator[str]:
    """Every ``digitalSourceType`` (and IPTC's ``Iptc4xmpExt:DigitalSourceType``) under an assertion."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k.lower().endswith("digitalsourcetype") and isinstance(v, str):
                yield v
            else:
                yield from _source_types(v)
    elif isinstance(value, list):
        for v in value:
            yield from _source_types(v)


def _claim_generator(manifest: dict[str, Any]) -> str | None:
    """``claim_generator`` (claims v1), else the first ``claim_generator_info`` name and version (v2)."""
    if manifest.get("claim_generator"):
        return str(manifest["claim_generator"])
    info = manifest.get("claim_generator_info") or []
    return _agent(info[0]) if info else None


def _agent(value: Any) -> str | None:
    if isinstance(value, dict):
        return " ".join(str(value[k]) for k in ("name", "version") if value.get(k)) or None
    return _text(value)


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def provenance_of(conn: sa.Connection, file_ids: Sequence[int]) -> dict[int, Provenance]:
    """The stored provenance of these files (a file never read is missing from the result): a
    manifest read is rebuilt from the reader's JSON kept whole, so a stored row and a fresh read
    give the same record; an absent or unreadable one has its state and reason."""
    out: dict[int, Provenance] = {}
    for file_id, row in stored_provenance(conn, file_ids).items():
        out[file_id] = (
            from_report(row.raw, row.reader_version)
            if row.raw is not None
            else Provenance(ProvenanceState(row.state), reader_version=row.reader_version, reason=row.reason)
        )
    return out

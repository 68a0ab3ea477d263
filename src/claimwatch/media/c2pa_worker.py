"""The C2PA read, run alone in a child process by :mod:`claimwatch.media.provenance`.

Why a separate process: the manifest parser is native code reading a hostile file, so the parent
bounds it from outside (address-space and CPU rlimits, a wall-clock timeout) and a crash or a
runaway parse costs one file, never the run. Started with ``python -I`` (isolated: no user site,
no ``PYTHONPATH``), it imports only ``c2pa`` and the standard library.

Protocol: argv[1] is the file; one JSON object on stdout — ``{"ok": true, "report": "<the
reader's manifest-store JSON>", "reader": "<versions>"}`` or ``{"ok": false, "error": "<the
c2pa error class>", "message": "…", "reader": "…"}``.
"""

import json
import sys

#: Offline: no remote manifest fetch, no OCSP request (c2pa-rs ``verify`` settings). No trust
#: list is loaded, so a good signature from an unknown signer reads as Valid + untrusted.
OFFLINE = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}


def main(path: str) -> dict:
    import c2pa

    reader_version = f"c2pa-python {c2pa.__version__} (c2pa-rs {c2pa.sdk_version()})"
    context = c2pa.Context.from_dict(OFFLINE)
    try:
        with open(path, "rb") as f, c2pa.Reader(f, context=context) as reader:
            return {"ok": True, "report": reader.json(), "reader": reader_version}
    except c2pa.C2paError as e:
        return {"ok": False, "error": type(e).__name__.lstrip("_"), "message": str(e)[:500], "reader": reader_version}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))

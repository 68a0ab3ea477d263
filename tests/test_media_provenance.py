"""C2PA provenance read offline (issue 14 item 4): files signed here with a generated ES256 chain
via c2pa's own Builder — AI-created JPEG, human-edited PNG, AI MP4 and WAV — a tampered copy, a
plain and a re-encoded JPEG, garbage; the bounds (size, time, memory); the store rows and the CLI."""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

import c2pa
import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from PIL import Image
from typer.testing import CliRunner

import claimwatch
from claimwatch.cli import app
from claimwatch.media.provenance import (
    Limits,
    ProvenanceState,
    SignerTrust,
    from_report,
    is_ai_source_type,
    provenance_of,
    read_provenance,
)
from claimwatch.store import schema as s
from claimwatch.store.media_provenance import files_without_provenance, save_provenance

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
OFFLINE = {
    "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
    "builder": {"thumbnail": {"enabled": False}},
}


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, cn), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example Test")]
    )


def _usage(*, sign: bool, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(sign, False, False, False, False, ca, ca, False, False)


def es256_chain() -> tuple[str, str]:
    """A root CA and a signing certificate as C2PA's certificate profile wants them: the signer
    not a CA, key usage digitalSignature (critical), an extended key usage C2PA accepts
    (emailProtection), authority and subject key ids; the chain PEM is leaf first."""
    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())

    def cert(subject: str, issuer: x509.Name, public, signer_key, *, ca: bool) -> x509.Certificate:
        b = (
            x509.CertificateBuilder()
            .subject_name(_name(subject))
            .issuer_name(issuer)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(_usage(sign=not ca, ca=ca), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        )
        if not ca:
            b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        return b.sign(signer_key, hashes.SHA256())

    root = cert("Example Test Root", _name("Example Test Root"), ca_key.public_key(), ca_key, ca=True)
    leaf = cert("Example Test Signer", root.subject, key.public_key(), ca_key, ca=False)
    pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (leaf, root)).decode()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return pem, private.decode()


def _actions(*actions: dict) -> dict:
    return {"label": "c2pa.actions.v2", "data": {"actions": list(actions)}}


def _image(fmt: str, color: tuple[int, int, int]) -> bytes:
    b = io.BytesIO()
    Image.new("RGB", (32, 24), color).save(b, fmt)
    return b.getvalue()


@dataclass
class Files:
    ai_jpg: Path
    edited_png: Path
    tampered: Path
    plain: Path
    reencoded: Path
    garbage: Path
    ai_mp4: Path | None
    ai_wav: Path


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    d = tmp_path_factory.mktemp("c2pa")
    pem, key = es256_chain()
    ctx = c2pa.Context.from_dict(OFFLINE)

    def sign(manifest: dict, mime: str, data: bytes, parent: bytes | None = None) -> bytes:
        signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, pem.encode(), key.encode(), None))
        builder = c2pa.Builder(manifest, ctx)
        if parent is not None:  # an edit needs its parent as an ingredient (c2pa.opened)
            builder.add_ingredient({"title": "parent", "relationship": "parentOf"}, mime, io.BytesIO(parent))
            builder.set_intent(c2pa.C2paBuilderIntent.EDIT)
        out = io.BytesIO()
        builder.sign(signer, mime, io.BytesIO(data), out)
        return out.getvalue()

    created = {
        "claim_generator_info": [{"name": "example-image-model", "version": "1.0"}],
        "assertions": [_actions({"action": "c2pa.created", "digitalSourceType": IPTC + "trainedAlgorithmicMedia"})],
    }
    edited = {
        "claim_generator_info": [{"name": "Example Photo Editor", "version": "2.0"}],
        "assertions": [
            _actions(
                {
                    "action": "c2pa.edited",
                    "softwareAgent": {"name": "Example Photo Editor", "version": "2.0"},
                    "digitalSourceType": IPTC + "humanEdits",
                }
            )
        ],
    }
    composite = {
        "claim_generator_info": [{"name": "example-av-model"}],
        "assertions": [
            _actions({"action": "c2pa.created", "digitalSourceType": "compositeWithTrainedAlgorithmicMedia"})
        ],
    }
    f = Files(
        *(d / n for n in ("ai.jpg", "edited.png", "tampered.jpg", "plain.jpg", "reencoded.jpg", "garbage.jpg")),
        None,
        d / "ai.wav",
    )
    signed = sign(created, "image/jpeg", _image("JPEG", (200, 30, 30)))
    f.ai_jpg.write_bytes(signed)
    png = _image("PNG", (0, 90, 200))
    f.edited_png.write_bytes(sign(edited, "image/png", png, parent=png))
    flipped = bytearray(signed)
    flipped[-100] ^= 0xFF  # in the image data, after the manifest
    f.tampered.write_bytes(bytes(flipped))
    f.plain.write_bytes(_image("JPEG", (10, 200, 10)))
    Image.open(f.ai_jpg).save(f.reencoded, quality=85)
    f.garbage.write_bytes(bytes(range(256)) * 8)
    pcm = io.BytesIO()
    with wave.open(pcm, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * 4000)
    f.ai_wav.write_bytes(sign(composite, "audio/wav", pcm.getvalue()))
    raw_mp4 = d / "raw.mp4"
    made = subprocess.run(
        [
            "ffmpeg",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc=duration=1:size=64x48:rate=5",
            "-pix_fmt",
            "yuv420p",
            str(raw_mp4),
        ],
        check=False,
        timeout=60,
    )
    if made.returncode == 0:
        f.ai_mp4 = d / "ai.mp4"
        f.ai_mp4.write_bytes(sign(composite, "video/mp4", raw_mp4.read_bytes()))
    return f


def test_ai_created_jpeg_is_valid_declared_ai_and_untrusted(files: Files) -> None:
    p = read_provenance(files.ai_jpg)
    assert p.state is ProvenanceState.VALID and p.ai_declared is True
    # no trust list is loaded: a good signature from a signer nobody vouched for, not an invalid one
    assert p.signer is SignerTrust.UNTRUSTED and "signingCredential.untrusted" in p.validation
    assert p.claim_generator == "example-image-model 1.0" and p.issuer == "Example Test"
    assert [(a.action, a.digital_source_type, a.active) for a in p.actions] == [
        ("c2pa.created", IPTC + "trainedAlgorithmicMedia", True)
    ]
    assert p.reader_version and "c2pa-python" in p.reader_version and p.raw["validation_state"] == "Valid"


def test_human_edit_is_valid_and_not_ai(files: Files) -> None:
    p = read_provenance(files.edited_png)
    assert p.state is ProvenanceState.VALID and p.ai_declared is False
    assert ("c2pa.edited", "Example Photo Editor 2.0") in [(a.action, a.software_agent) for a in p.actions]
    assert p.digital_source_type == IPTC + "humanEdits"


def test_a_flipped_byte_is_invalid_and_says_nothing_about_ai(files: Files) -> None:
    p = read_provenance(files.tampered)
    assert p.state is ProvenanceState.INVALID and p.ai_declared is None
    assert "assertion.dataHash.mismatch" in p.validation and "Invalid" in p.reason
    # what the manifest claimed is still shown, but it counts for nothing
    assert p.digital_source_type == IPTC + "trainedAlgorithmicMedia"


@pytest.mark.parametrize("name", ["plain", "reencoded"])
def test_no_manifest_is_absent_never_authentic(files: Files, name: str) -> None:
    p = read_provenance(getattr(files, name))
    assert p.state is ProvenanceState.ABSENT and p.ai_declared is None and p.raw is None


def test_garbage_is_unreadable(files: Files) -> None:
    p = read_provenance(files.garbage)
    assert p.state is ProvenanceState.UNREADABLE and p.ai_declared is None and "not a file type" in p.reason


def test_audio_and_video_declare_composite_ai(files: Files) -> None:
    for f in (files.ai_wav, files.ai_mp4):
        if f is None:  # ffmpeg missing
            continue
        p = read_provenance(f)
        assert (p.state, p.ai_declared) == (ProvenanceState.VALID, True), f


def test_bounds_make_a_read_unreadable_with_the_reason(files: Files) -> None:
    too_big = read_provenance(files.ai_jpg, Limits(max_bytes=100))
    assert too_big.state is ProvenanceState.UNREADABLE and "cap" in too_big.reason
    slow = read_provenance(files.ai_jpg, Limits(seconds=0.001))
    assert slow.state is ProvenanceState.UNREADABLE and "stopped" in slow.reason
    starved = read_provenance(files.ai_jpg, Limits(memory_bytes=16 * 2**20))
    assert starved.state is ProvenanceState.UNREADABLE and "memory cap" in starved.reason


def test_reader_json_without_validation_state() -> None:
    """Readers before ``validation_state`` listed failures only in ``validation_status``."""
    base = {
        "active_manifest": "m",
        "manifests": {
            "m": {"assertions": [_actions({"action": "c2pa.created", "digitalSourceType": "trainedAlgorithmicMedia"})]}
        },
    }
    untrusted = from_report(base | {"validation_status": [{"code": "signingCredential.untrusted"}]})
    assert (untrusted.state, untrusted.ai_declared, untrusted.signer) == (
        ProvenanceState.VALID,
        True,
        SignerTrust.UNTRUSTED,
    )
    broken = from_report(base | {"validation_status": [{"code": "claimSignature.mismatch"}]})
    assert (broken.state, broken.ai_declared) == (ProvenanceState.INVALID, None)


@pytest.mark.parametrize(
    ("value", "ai"),
    [
        (IPTC + "trainedAlgorithmicMedia", True),
        ("trainedAlgorithmicMedia", True),
        (IPTC + "compositeWithTrainedAlgorithmicMedia", True),
        ("https://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia/", True),
        (IPTC + "algorithmicMedia", False),
        (IPTC + "compositeSynthetic", False),
        (IPTC + "digitalCapture", False),
    ],
)
def test_ai_source_types(value: str, ai: bool) -> None:
    assert is_ai_source_type(value) is ai


def test_iptc_assertion_and_ingredient_declarations_count() -> None:
    """The declaration may sit in an IPTC metadata assertion or in an ingredient's manifest."""
    report = {
        "active_manifest": "m2",
        "manifests": {
            "m2": {
                "claim_generator": "editor/1.0",
                "assertions": [
                    _actions({"action": "c2pa.opened"}),
                    {"label": "stds.iptc", "data": {"Iptc4xmpExt:DigitalSourceType": IPTC + "digitalArt"}},
                ],
                "signature_info": {"issuer": "Example"},
            },
            "m1": {
                "assertions": [_actions({"action": "c2pa.created", "digitalSourceType": "trainedAlgorithmicMedia"})]
            },
        },
        "validation_state": "Trusted",
    }
    p = from_report(report)
    assert p.ai_declared is True and p.signer is SignerTrust.TRUSTED
    assert set(p.digital_source_types) == {IPTC + "digitalArt", "trainedAlgorithmicMedia"}
    assert [a.active for a in p.actions] == [True, False]


@pytest.mark.slow
def test_store_rows_replace_and_read_back(files: Files, tmp_path: Path) -> None:
    ws = claimwatch.open(tmp_path / "t.db")
    media = tmp_path / "t.media"
    media.mkdir()
    (media / "ab").mkdir()
    (media / "ab" / "ai.jpg").write_bytes(files.ai_jpg.read_bytes())
    with ws.engine.begin() as conn:
        ids = [
            conn.execute(
                sa.insert(s.MediaFile).values(
                    sha256=f"{n:064x}", md5=f"{n:032x}", size_bytes=1, kind="image", path=path, hashed_at=s.utcnow()
                )
            ).inserted_primary_key[0]
            for n, path in ((1, "ab/ai.jpg"), (2, "ab/missing.jpg"), (3, "../outside.jpg"))
        ]
        assert [i for i, _ in files_without_provenance(conn)] == ids
    result = CliRunner().invoke(app, ["media", "provenance", "--stored", "--db", str(tmp_path / "t.db"), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["states"] == {"valid": 1} and out["ai_declared"] == 1 and len(out["missing"]) == 2
    with ws.engine.begin() as conn:
        stored = provenance_of(conn, ids)
        assert set(stored) == {ids[0]} and stored[ids[0]].ai_declared is True
        assert stored[ids[0]].signer is SignerTrust.UNTRUSTED
        # a file read again replaces its row
        save_provenance(conn, ids[0], read_provenance(files.tampered))
        again = provenance_of(conn, [ids[0]])[ids[0]]
        assert again.state is ProvenanceState.INVALID and again.ai_declared is None
        assert conn.execute(sa.select(sa.func.count()).select_from(s.MediaProvenance)).scalar() == 1
        # an unreadable file keeps its one-line reason when stored
        garbage = tmp_path / "garbage.jpg"
        garbage.write_bytes(b"\xff\xd8 not really a JPEG")
        unread = read_provenance(garbage)
        save_provenance(conn, ids[0], unread)
        back = provenance_of(conn, [ids[0]])[ids[0]]
        assert back.state is unread.state and back.state is not ProvenanceState.VALID
        assert back.reason and back.reason == unread.reason
        # the missing files are tried again by the next run
        assert [i for i, _ in files_without_provenance(conn)] == ids[1:]


@pytest.mark.slow
def test_cli_reads_a_file_and_refuses_bad_use(files: Files, tmp_path: Path) -> None:
    runner = CliRunner()
    text = runner.invoke(app, ["media", "provenance", str(files.tampered)])
    assert text.exit_code == 0 and "invalid" in text.stdout and "unknown (no valid manifest)" in text.stdout
    js = runner.invoke(app, ["media", "provenance", str(files.ai_jpg), "--json"])
    assert json.loads(js.stdout)["ai_declared"] is True
    for args in ([], [str(files.ai_jpg), "--stored"], [str(tmp_path / "nope.jpg")]):
        bad = runner.invoke(app, ["media", "provenance", *args])
        assert bad.exit_code == 2 and "Traceback" not in bad.output


def test_hostile_manifest_text_is_stored_on_either_store(each_store: claimwatch.Workspace) -> None:
    """A manifest is the file's word: NUL and lone surrogates in it neither store can hold as text
    are cleaned in the text columns, escaped in the JSON kept whole; the row reads back."""
    report = {
        "active_manifest": "m",
        "manifests": {
            "m": {
                "claim_generator": "evil\x00gen\ud800",
                "assertions": [_actions({"action": "c2pa.created", "digitalSourceType": "trainedAlgorithmicMedia"})],
                "signature_info": {"issuer": "<script>x</script>\x00"},
            }
        },
        "validation_state": "Valid",
    }
    with each_store.engine.begin() as conn:
        file_id = conn.execute(
            sa.insert(s.MediaFile).values(sha256="f" * 64, md5="f" * 32, size_bytes=1, kind="image", path="x")
        ).inserted_primary_key[0]
        save_provenance(conn, file_id, from_report(report, "test"))
        row = conn.execute(sa.select(s.MediaProvenance)).one()
        assert row.claim_generator == "evilgen\ufffd" and row.ai_declared is True and row.state == "valid"
        back = provenance_of(conn, [file_id])[file_id]
        assert back.state is ProvenanceState.VALID and back.ai_declared is True

"""How robust the media matching rules are, on media this script makes itself (seeded).

    nice -n 5 python benchmarks/media_robustness.py --seed 2 [--only images,video,audio] [--json out.json]

Seed 1 is the tuning generation (the audio bit-error threshold was chosen on it: see
``--tune``); seed 2 is the reporting generation. Everything goes through the tool's own code:
``media.hashing.hash_file`` on files (bank side ``for_bank=True``, post side ``False``) and the
rules in ``media.compare``; the false-match count over ~10⁶ image pairs uses the same hashing
(``image.frame_hashes``) on the decoded pictures and the same distance, vectorised.

* images: recall under JPEG q20, resize to 25 %, mirror, letterbox (9:16), a 10 % caption bar,
  a phone screenshot with margins; false matches over all pairs of ``--images`` unrelated ones;
  the cost in bits of hashing at 512 px instead of full size;
* video: recall under re-encode (smaller, crf 35), trim (a 6 s clip from 3.3 s), 1.25× speed, a
  caption bar; the clip's offset error; the bank at every distinct frame (the tool) vs a fixed
  5 fps or 1 fps; false matches;
* audio: recall under mp3 64k, opus 16k, telephone band, music at −10 dB, a 6 s clip (offset
  error); false matches between unrelated speech.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # the sample generators shared with the tests

import media_samples as ms  # noqa: E402

from claimwatch.media import compare  # noqa: E402
from claimwatch.media.guard import DEFAULT_LIMITS  # noqa: E402
from claimwatch.media.hashing import hash_file  # noqa: E402
from claimwatch.media.image import frame_hashes, pdq  # noqa: E402
from claimwatch.media.records import PdqHash  # noqa: E402
from claimwatch.media.video import hash_video  # noqa: E402

IMAGE_EDITS = ("jpeg20", "resize25", "mirror", "letterbox", "caption", "screenshot")
VIDEO_EDITS = ("reencode", "trim", "speed", "caption")
AUDIO_EDITS = ("mp3", "opus", "phone", "music", "clip")
#: where each edit puts the query's start in the source (ms) and its speed
VIDEO_TRUTH = {"reencode": (0, 1.0), "trim": (3300, 1.0), "speed": (0, 1.25), "caption": (0, 1.0)}
AUDIO_CLIP_START_MS = 2500


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def stream(seed: int, part: str) -> np.random.Generator:
    """One generator per seed and section, so sections do not shift each other's media."""
    return np.random.default_rng([seed, sum(part.encode())])


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    arr = np.asarray(values, dtype=np.float64)
    return {f"p{q}": round(float(np.percentile(arr, q)), 3) for q in (0, 1, 5, 50, 95, 99, 100)}


# ---------------------------------------------------------------- images


def image_recall(seed: int, count: int, work: Path) -> dict:
    rng = stream(seed, "image-recall")
    results: dict[str, list[compare.ImageMatch]] = {edit: [] for edit in IMAGE_EDITS}
    skipped = 0
    for i in range(count):
        im = ms.picture(rng)
        im.save(work / "bank.png")
        bank = hash_file(work / "bank.png", for_bank=True)
        if max(h.quality for h in bank.pdq) < compare.PDQ_MIN_QUALITY:
            skipped += 1  # a picture PDQ cannot bank: not counted against recall
            continue
        edits = {
            "jpeg20": im,
            "resize25": ms.resized(im, 0.25),
            "mirror": ms.mirrored(im),
            "letterbox": ms.letterboxed(im, (0, 0, 0) if i % 2 else (255, 255, 255)),
            "caption": ms.captioned(im, ms.sentence(rng, 5).upper()),
            "screenshot": ms.screenshot(im, rng),
        }
        for edit, edited in edits.items():
            ms.jpeg(edited, 20 if edit == "jpeg20" else 85, work / "post.jpg")
            query = hash_file(work / "post.jpg", for_bank=False)
            results[edit].append(compare.match_image(query.pdq, bank.pdq))
    out: dict = {"images": count, "not_bankable_quality_under_50": skipped, "by_edit": {}}
    for edit, matches in results.items():
        dist = [m.distance for m in matches if m.distance is not None]
        out["by_edit"][edit] = {
            "recall": round(sum(m.matched for m in matches) / max(1, len(matches)), 4),
            "n": len(matches),
            "distance": percentiles(dist),
            "variants": _count(f"{m.query_variant}→{m.bank_variant}" for m in matches if m.matched),
        }
    return out


def _count(items: object) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:  # type: ignore[attr-defined]
        out[item] = out.get(item, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def image_false_matches(seed: int, count: int) -> dict:
    """All pairs of ``count`` unrelated pictures: does the post-side hash of one match the bank
    side of another (either way round)? Hashes as ``hash_file`` makes them, from the pixels."""
    rng = stream(seed, "image-fp")
    query_hashes: list[PdqHash] = []
    query_owner: list[int] = []
    bank_hashes: list[PdqHash] = []
    bank_owner: list[int] = []
    started = time.perf_counter()
    for i in range(count):
        rgb = np.asarray(ms.picture(rng))
        for h in frame_hashes(rgb, for_bank=False):
            if h.quality >= compare.PDQ_MIN_QUALITY:
                query_hashes.append(h)
                query_owner.append(i)
        for h in frame_hashes(rgb, for_bank=True):
            if h.quality >= compare.PDQ_MIN_QUALITY:
                bank_hashes.append(h)
                bank_owner.append(i)
    hashing_s = time.perf_counter() - started
    q, b = compare.pack(query_hashes), compare.pack(bank_hashes)
    q_owner, b_owner = np.asarray(query_owner), np.asarray(bank_owner)
    # per (query picture, bank picture): the smallest distance over their hashes
    best = np.full((count, count), 256, dtype=np.int32)
    bank_starts = np.flatnonzero(np.r_[True, b_owner[1:] != b_owner[:-1]])
    bank_ids = b_owner[bank_starts]
    for start in range(0, len(q), 128):
        block = compare.distances(q[start : start + 128], b)
        per_bank = np.minimum.reduceat(block, bank_starts, axis=1)
        owners = q_owner[start : start + 128]
        for row, owner in enumerate(owners):
            best[owner, bank_ids] = np.minimum(best[owner, bank_ids], per_bank[row])
    np.fill_diagonal(best, 256)
    either = np.minimum(best, best.T)[np.triu_indices(count, k=1)]
    eligible = len(set(query_owner) & set(bank_owner))
    pairs = int(len(either))
    false = int((either <= compare.PDQ_MAX_DISTANCE).sum())
    return {
        "images": count,
        "images_with_quality_50": eligible,
        "pairs": pairs,
        "false_matches_at_31": false,
        "false_match_rate": false / pairs if pairs else None,
        "within_40": int((either <= 40).sum()),
        "within_52": int((either <= 52).sum()),
        "closest_unrelated_distance": int(either.min()) if pairs else None,
        "unrelated_distance": percentiles(either[either < 256].tolist()[:200_000]),
        "hashes_per_picture": {"query": round(len(q) / count, 2), "bank": round(len(b) / count, 2)},
        "hashing_s_per_picture_query_and_bank": round(hashing_s / count, 4),
    }


def downscale_cost(seed: int, count: int) -> dict:
    """Bits between the hash of a 1600×1200 picture and of the same at 512 px (box filter)."""
    from PIL import Image

    rng = stream(seed, "downscale")
    bits = []
    for _ in range(count):
        im = ms.picture(rng, 1600, 1200)
        full = pdq(np.asarray(im))
        small = pdq(np.asarray(im.resize((512, 384), Image.Resampling.BOX)))
        bits.append(compare.pdq_distance(full, small))
    return {"pictures": count, "bits": percentiles(bits), "mean_bits": round(float(np.mean(bits)), 2)}


# ---------------------------------------------------------------- video


def video(seed: int, count: int, work: Path) -> dict:
    """Each source banked as the tool does (every distinct frame) and, for comparison, at a
    fixed 5 fps and 1 fps; each edit queried at 1 fps against its own source and every other."""
    rng = stream(seed, "video")
    kinds, banks, queries = [], [], []
    other_rates: dict[str, list[list[PdqHash]]] = {"5fps": [], "1fps": []}
    started = time.perf_counter()
    for i in range(count):
        kind = ms.video_kind(rng)
        source = ms.video_source(rng, work / f"v{i}.mp4", workdir=work, kind=kind)
        kinds.append(kind)
        banks.append(hash_file(source, for_bank=True).pdq)
        for name, fps in (("5fps", 5.0), ("1fps", 1.0)):
            other_rates[name].append(hash_video(source, _sniffed(source), DEFAULT_LIMITS, for_bank=True, fps=fps)[1])
        for edit in VIDEO_EDITS:
            path = ms.video_edit(source, work / f"v{i}-{edit}.mp4", edit)
            queries.append((i, edit, hash_file(path, for_bank=False).pdq))
        progress(f"video {i + 1}/{count} ({kind})")
    elapsed = time.perf_counter() - started
    out: dict = {
        "videos": count,
        "seconds_each": 12,
        "bank_frames_per_second": {
            "tool": round(_frames_per_s(banks), 2),
            **{name: round(_frames_per_s(b), 2) for name, b in other_rates.items()},
        },
        "kinds": _count(kinds),
        "by_edit": {},
        "generation_and_hashing_s": round(elapsed, 1),
    }
    for edit in VIDEO_EDITS:
        everything = [(i, q) for i, e, q in queries if e == edit]
        # a query without one frame of PDQ quality ≥ 50 (a flat stretch) cannot match by rule:
        # counted apart, as images under quality 50 are
        own = [(i, q) for i, q in everything if any(h.quality >= compare.PDQ_MIN_QUALITY for h in q)]
        dense = [compare.match_video(q, banks[i]) for i, q in own]
        truth, _speed = VIDEO_TRUTH[edit]
        errors = [abs(m.offset_ms - truth) for m in dense if m.matched and m.offset_ms is not None]
        row = {
            "recall": round(sum(m.matched for m in dense) / len(dense), 4),
            "n": len(dense),
            "without_quality_frames": len(everything) - len(own),
            "share_of_query_frames": percentiles([m.share for m in dense]),
            "missed_kinds": _count(kinds[i] for (i, _), m in zip(own, dense, strict=True) if not m.matched),
            "offset_error_ms": percentiles(errors),
            "located_within_1s": round(sum(e <= 1000 for e in errors) / len(dense), 4),
            "speed": percentiles([m.speed for m in dense if m.matched and m.speed is not None]),
        }
        for name, rate_banks in other_rates.items():
            at_rate = [compare.match_video(q, rate_banks[i]) for i, q in own]
            row[f"bank_at_{name}_recall"] = round(sum(m.matched for m in at_rate) / len(at_rate), 4)
            row[f"bank_at_{name}_share"] = percentiles([m.share for m in at_rate])
        out["by_edit"][edit] = row
    unrelated = [compare.match_video(q, banks[j]) for i, _, q in queries for j in range(count) if j != i]
    out["false_matches"] = sum(m.matched for m in unrelated)
    out["unrelated_pairs"] = len(unrelated)
    out["unrelated_share"] = percentiles([m.share for m in unrelated])
    return out


def _frames_per_s(banks: list[list[PdqHash]]) -> float:
    return sum(len({h.t_ms for h in bank}) for bank in banks) / (12 * len(banks))


def _sniffed(path: Path):  # noqa: ANN202 - the guard's record
    from claimwatch.media.guard import check_file

    return check_file(path, DEFAULT_LIMITS)[0]


# ---------------------------------------------------------------- audio


def audio_prints(seed: int, count: int, work: Path) -> tuple[list, list]:
    rng = stream(seed, "audio")
    banks, queries = [], []
    for i in range(count):
        source = ms.speech(rng, work / f"a{i}.wav")
        banks.append(hash_file(source, for_bank=True).audio)
        for edit in AUDIO_EDITS:
            suffix = {"mp3": ".mp3", "opus": ".ogg"}.get(edit, ".wav")
            path = ms.audio_edit(source, work / f"a{i}-{edit}{suffix}", edit, rng)
            queries.append((i, edit, hash_file(path, for_bank=False).audio))
    return banks, queries


def audio(banks: list, queries: list, max_ber: float = compare.AUDIO_MAX_BER) -> dict:
    out: dict = {"clips": len(banks), "max_ber": max_ber, "by_edit": {}}
    for edit in AUDIO_EDITS:
        own = [compare.match_audio(q, banks[i], max_ber) for i, e, q in queries if e == edit]
        truth = AUDIO_CLIP_START_MS if edit == "clip" else 0
        errors = [abs(m.offset_ms - truth) for m in own if m.matched and m.offset_ms is not None]
        out["by_edit"][edit] = {
            "recall": round(sum(m.matched for m in own) / len(own), 4),
            "ber": percentiles([m.ber for m in own if m.ber is not None]),
            "offset_error_ms": percentiles(errors),
            "located_within_1s": round(sum(e <= 1000 for e in errors) / len(own), 4),
        }
    unrelated = [compare.match_audio(q, banks[j], max_ber) for i, _, q in queries for j in range(len(banks)) if j != i]
    out["false_matches"] = sum(m.matched for m in unrelated)
    out["unrelated_pairs"] = len(unrelated)
    out["unrelated_ber"] = percentiles([m.ber for m in unrelated if m.ber is not None])
    return out


def tune_audio(banks: list, queries: list) -> list[dict]:
    """Recall and false matches on this generation for a grid of thresholds."""
    rows = []
    for max_ber in (0.12, 0.15, 0.18, 0.2, 0.22, 0.25, 0.28):
        result = audio(banks, queries, max_ber)
        rows.append(
            {
                "max_ber": max_ber,
                "min_recall": min(e["recall"] for e in result["by_edit"].values()),
                **{edit: e["recall"] for edit, e in result["by_edit"].items()},
                "false_matches": result["false_matches"],
                "unrelated_pairs": result["unrelated_pairs"],
            }
        )
    return rows


# ---------------------------------------------------------------- report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=2, help="the generation (1 = tuning, 2 = reporting)")
    ap.add_argument("--only", default="images,video,audio")
    ap.add_argument("--images", type=int, default=1500, help="unrelated pictures for the false-match pairs")
    ap.add_argument("--recall-images", type=int, default=300)
    ap.add_argument("--videos", type=int, default=16)
    ap.add_argument("--clips", type=int, default=40)
    ap.add_argument("--tune", action="store_true", help="also print the audio threshold grid")
    ap.add_argument("--json", type=Path, help="write the figures here")
    args = ap.parse_args()
    parts = set(args.only.split(","))
    report: dict = {"seed": args.seed, "command": " ".join(sys.argv)}
    with tempfile.TemporaryDirectory(prefix="media-bench-") as tmp:
        work = Path(tmp)
        if "images" in parts:
            progress("images: recall")
            report["image_recall"] = image_recall(args.seed, args.recall_images, work)
            progress("images: false matches")
            report["image_false_matches"] = image_false_matches(args.seed, args.images)
            report["image_downscale_cost"] = downscale_cost(args.seed, 40)
        if "video" in parts:
            progress("video")
            report["video"] = video(args.seed, args.videos, work)
        if "audio" in parts:
            progress("audio")
            banks, queries = audio_prints(args.seed, args.clips, work)
            report["audio"] = audio(banks, queries)
            if args.tune:
                report["audio_tuning"] = tune_audio(banks, queries)
    print_table(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")


def print_table(report: dict) -> None:
    print(f"seed {report['seed']}")
    if "image_recall" in report:
        rec = report["image_recall"]
        print(f"\nimages ({rec['images']} banked, {rec['not_bankable_quality_under_50']} under quality 50)")
        for edit, row in rec["by_edit"].items():
            print(f"  {edit:<11} recall {row['recall']:.3f}  distance p50 {row['distance'].get('p50')}"
                  f" p95 {row['distance'].get('p95')} max {row['distance'].get('p100')}")  # fmt: skip
        fp = report["image_false_matches"]
        print(f"  unrelated: {fp['false_matches_at_31']} false matches in {fp['pairs']:,} pairs"
              f" (closest {fp['closest_unrelated_distance']} bits; ≤40: {fp['within_40']}, ≤52: {fp['within_52']})")  # fmt: skip
        cost = report["image_downscale_cost"]
        print(
            f"  hashing at 512 px instead of 1600 px: {cost['mean_bits']} bits on average, max {cost['bits']['p100']}"
        )
    if "video" in report:
        v = report["video"]
        print(f"\nvideo ({v['videos']} sources of {v['seconds_each']} s: {v['kinds']}; query 1 fps;"
              f" banked frames per second: {v['bank_frames_per_second']})")  # fmt: skip
        for edit, row in v["by_edit"].items():
            print(f"  {edit:<9} recall {row['recall']:.3f}  share p50 {row['share_of_query_frames'].get('p50')}"
                  f"  located ≤1 s {row['located_within_1s']:.3f} (error max {row['offset_error_ms'].get('p100')} ms)"
                  f"  missed {row['missed_kinds']}  | recall with bank at 5 fps {row['bank_at_5fps_recall']:.3f},"
                  f" 1 fps {row['bank_at_1fps_recall']:.3f}")  # fmt: skip
        print(f"  unrelated: {v['false_matches']} false matches in {v['unrelated_pairs']} pairs")
    if "audio" in report:
        a = report["audio"]
        print(f"\naudio ({a['clips']} utterances; BER ≤ {a['max_ber']}, ≥ 5 s matched)")
        for edit, row in a["by_edit"].items():
            print(f"  {edit:<6} recall {row['recall']:.3f}  BER p50 {row['ber'].get('p50')} max {row['ber'].get('p100')}"
                  f"  located ≤1 s {row['located_within_1s']:.3f}")  # fmt: skip
        print(f"  unrelated: {a['false_matches']} false matches in {a['unrelated_pairs']} pairs;"
              f" BER min {a['unrelated_ber'].get('p0')} p1 {a['unrelated_ber'].get('p1')}")  # fmt: skip
    for row in report.get("audio_tuning", []):
        print(f"  tune max_ber {row['max_ber']}: min recall {row['min_recall']:.3f}, false {row['false_matches']}")


if __name__ == "__main__":
    main()

"""Media made on the spot, seeded, for the media tests and ``benchmarks/media_robustness.py``:
Pillow pictures of varied content, ffmpeg test-source videos with motion, espeak-ng speech — and
the edits a re-share applies to them (re-encode, resize, mirror, letterbox, caption bar,
screenshot border, trim, speed, telephone band, background music).

Nothing here is committed media: every file is written under the caller's folder."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
WORDS = (
    "election ballot count vote polling station mail county governor senate minister ministry results "
    "fraud machine video audio clip speech candidate rally crowd border tax health vaccine school river "
    "bridge city council weather flood fire police court judge report million thousand percent yesterday "
    "tomorrow morning evening announced denied confirmed changed stolen hidden released broadcast"
).split()
VOICES = ("en-gb", "en-us", "en-gb-scotland", "en-029", "en-gb-x-rp", "en-gb-x-gbclan")
VARIANTS = ("", "+m3", "+f2", "+m7", "+f4")


def run(argv: list[str]) -> None:
    subprocess.run(argv, check=True, capture_output=True, timeout=300)


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.truetype(FONT, size)
    except OSError:  # no DejaVu: Pillow's own
        return ImageFont.load_default(size)


# ---------------------------------------------------------------- images


def picture(rng: np.random.Generator, width: int = 640, height: int = 480) -> Image.Image:
    """One of four kinds of picture, so unrelated images are not all alike: a "photo" (smooth
    random field with texture), a scene of shapes on a gradient, a fractal crop, a chart."""
    makers = (photo, _shapes, _fractal, _chart)
    while True:  # a fractal crop may be flat (all inside the set): draw again
        im = makers[int(rng.integers(len(makers)))](rng, width, height)
        if np.asarray(im).std() > 20:
            return im


def photo(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    """Noise summed over octaves with falling amplitude (a 1/f spectrum, as photos have)."""
    out = np.zeros((height, width, 3))
    for octave, cells in enumerate((3, 6, 12, 24, 48)):
        small = rng.normal(0, 1, (cells, max(2, cells * width // height), 3))
        layer = np.stack([
            np.asarray(Image.fromarray(small[..., c].astype(np.float32)).resize((width, height),
                       Image.Resampling.BICUBIC)) for c in range(3)], axis=2)  # fmt: skip
        out += layer / 2**octave
    out = (out - out.mean()) / (out.std() + 1e-9)
    return Image.fromarray(np.clip(128 + 50 * out, 0, 255).astype(np.uint8))


def _gradient(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    a, b = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    ramp = np.linspace(0, 1, height)[:, None, None]
    return Image.fromarray((a * (1 - ramp) + b * ramp).repeat(width, axis=1).astype(np.uint8))


def _shapes(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    im = _gradient(rng, width, height)
    draw = ImageDraw.Draw(im)
    for _ in range(int(rng.integers(6, 16))):
        x0, y0 = int(rng.integers(-50, width)), int(rng.integers(-50, height))
        w, h = int(rng.integers(30, width // 2)), int(rng.integers(30, height // 2))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        shape = int(rng.integers(3))
        if shape == 0:
            draw.ellipse((x0, y0, x0 + w, y0 + h), fill=colour)
        elif shape == 1:
            draw.rectangle((x0, y0, x0 + w, y0 + h), fill=colour)
        else:
            points = [(int(rng.integers(0, width)), int(rng.integers(0, height))) for _ in range(3)]
            draw.polygon(points, fill=colour)
    draw.text((int(rng.integers(0, width // 2)), int(rng.integers(0, height - 40))), " ".join(rng.choice(WORDS, 2)),
              fill=(255, 255, 255), font=_font(int(rng.integers(20, 48))))  # fmt: skip
    return im.filter(ImageFilter.GaussianBlur(1))


def _fractal(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    theta = rng.uniform(0, 2 * np.pi)  # a point of the main cardioid's edge: detail all round
    edge = np.exp(1j * theta) / 2 - np.exp(2j * theta) / 4
    cx, cy = edge.real, edge.imag
    scale = 10 ** rng.uniform(-2.5, -1.0)
    x = np.linspace(cx - scale, cx + scale, width // 2)
    y = np.linspace(cy - scale * height / width, cy + scale * height / width, height // 2)
    c = x[None, :] + 1j * y[:, None]
    z = np.zeros_like(c)
    count = np.zeros(c.shape)
    for _ in range(48):
        inside = np.abs(z) <= 2
        z[inside] = z[inside] ** 2 + c[inside]
        count += inside
    phase = rng.uniform(0, 2 * np.pi, 3)
    rgb = (127 + 127 * np.sin(count[..., None] / 6 + phase)).astype(np.uint8)
    fractal = np.asarray(Image.fromarray(rgb).resize((width, height), Image.Resampling.BICUBIC))
    inside = np.asarray(Image.fromarray((count == 48).astype(np.uint8) * 255).resize((width, height)))[..., None] > 127
    return Image.fromarray(np.where(inside, np.asarray(photo(rng, width, height)), fractal))  # the set: textured


def _chart(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    bg = tuple(int(c) for c in rng.integers(200, 256, 3))
    im = Image.new("RGB", (width, height), bg)
    draw = ImageDraw.Draw(im)
    bars = int(rng.integers(3, 10))
    bar_w = (width - 80) // bars
    for i in range(bars):
        top = int(rng.integers(60, height - 60))
        draw.rectangle((40 + i * bar_w, top, 40 + (i + 1) * bar_w - 6, height - 40),
                       fill=tuple(int(c) for c in rng.integers(0, 200, 3)))  # fmt: skip
    draw.text((40, 12), " ".join(rng.choice(WORDS, 3)).upper(), fill=(20, 20, 20), font=_font(28))
    return im


def jpeg(im: Image.Image, quality: int, path: Path) -> Path:
    im.save(path, "JPEG", quality=quality)
    return path


def resized(im: Image.Image, factor: float) -> Image.Image:
    return im.resize((max(1, round(im.width * factor)), max(1, round(im.height * factor))), Image.Resampling.BILINEAR)


def mirrored(im: Image.Image) -> Image.Image:
    return im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)


def letterboxed(im: Image.Image, colour: tuple[int, int, int] = (0, 0, 0)) -> Image.Image:
    """Into a 9:16 portrait canvas, as a phone re-share of a landscape picture."""
    height = round(im.width * 16 / 9)
    canvas = Image.new("RGB", (im.width, height), colour)
    canvas.paste(im, (0, (height - im.height) // 2))
    return canvas


def captioned(im: Image.Image, text: str, share: float = 0.1) -> Image.Image:
    """A meme-style white caption bar of ``share`` of the height above the picture."""
    bar = max(8, round(im.height * share))
    canvas = Image.new("RGB", (im.width, im.height + bar), (255, 255, 255))
    canvas.paste(im, (0, bar))
    ImageDraw.Draw(canvas).text((10, bar // 6), text, fill=(0, 0, 0), font=_font(max(8, bar * 2 // 3)))
    return canvas


def screenshot(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A phone screenshot: the picture scaled into a portrait screen with a flat status bar and
    flat margins of the app's background colour (uneven above and below)."""
    width = 720
    scaled = resized(im, width * 0.92 / im.width)
    height = 1280
    background = tuple(int(c) for c in rng.choice([[255, 255, 255], [0, 0, 0], [24, 24, 28], [240, 242, 245]]))
    canvas = Image.new("RGB", (width, height), background)
    ImageDraw.Draw(canvas).rectangle((0, 0, width, 48), fill=(30, 30, 30))
    top = int(rng.integers(120, max(121, height - scaled.height - 200)))
    canvas.paste(scaled, ((width - scaled.width) // 2, top))
    return canvas


# ---------------------------------------------------------------- video


VIDEO_KINDS = ("mandelbrot", "life", "cellauto", "pan")


def video_kind(rng: np.random.Generator) -> str:
    return VIDEO_KINDS[int(rng.integers(len(VIDEO_KINDS)))]


def video_source(
    rng: np.random.Generator, path: Path, seconds: float = 12.0, workdir: Path | None = None, kind: str | None = None
) -> Path:
    """A moving test video, different for every draw: a mandelbrot zoom from a random point, a
    game of life or a cellular automaton from a random seed, or a pan over a random picture."""
    kind = kind or video_kind(rng)
    size = "320x240"
    if kind == "mandelbrot":
        src = (f"mandelbrot=s={size}:rate=25:start_x={rng.uniform(-1.5, 0.3):.4f}:"
               f"start_y={rng.uniform(-0.8, 0.8):.4f}:start_scale={rng.uniform(0.5, 3):.3f}")  # fmt: skip
        args = ["-f", "lavfi", "-i", src]
    elif kind == "life":
        colours = [f"#{int(c):06x}" for c in rng.integers(0, 1 << 24, 2)]
        src = (f"life=s=160x120:rate=25:seed={int(rng.integers(1 << 30))}:ratio={rng.uniform(0.1, 0.5):.2f}:"
               f"mold=5:life_color={colours[0]}:death_color={colours[1]},scale={size}")  # fmt: skip
        args = ["-f", "lavfi", "-i", src]
    elif kind == "cellauto":
        src = (f"cellauto=s=160x120:rate=25:rule={int(rng.choice([18, 30, 45, 60, 90, 110, 150]))}:"
               f"seed={int(rng.integers(1 << 30))}:random_fill_ratio={rng.uniform(0.2, 0.7):.2f},scale={size},"
               f"hue=h={int(rng.integers(360))}:s=3")  # fmt: skip
        args = ["-f", "lavfi", "-i", src]
    else:
        still = (workdir or path.parent) / (path.stem + "-still.png")
        picture(rng, 960, 720).save(still)
        frames = int(seconds * 25)
        pan = f"zoompan=z='1.2+0.3*on/{frames}':x='iw/4*on/{frames}':y='ih/5':d={frames}:s={size}:fps=25"
        args = ["-loop", "1", "-i", str(still), "-vf", pan]
    run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args, "-t", f"{seconds}", "-c:v", "libx264",
         "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p", str(path)])  # fmt: skip
    return path


def video_edit(source: Path, path: Path, edit: str) -> Path:
    """``reencode`` (smaller, crf 35), ``trim`` (3.3 s to 9.3 s: a 6 s clip), ``speed`` (1.25×),
    ``caption`` (a 40 px caption bar with text above the picture)."""
    filters = {
        "reencode": ["-vf", "scale=240:180", "-crf", "35"],
        "trim": ["-ss", "3.3", "-t", "6", "-crf", "23"],
        "speed": ["-vf", "setpts=PTS/1.25", "-crf", "23"],
        "caption": [
            "-vf",
            f"pad=iw:ih+40:0:40:white,drawtext=fontfile={FONT}:text='BREAKING NEWS':x=10:y=8:"
            "fontsize=24:fontcolor=black",
            "-crf",
            "23",
        ],  # fmt: skip
    }[edit]
    run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(source), *filters, "-an", "-c:v", "libx264",
         "-preset", "veryfast", "-pix_fmt", "yuv420p", str(path)])  # fmt: skip
    return path


# ---------------------------------------------------------------- audio


def sentence(rng: np.random.Generator, words: int = 14) -> str:
    return " ".join(rng.choice(WORDS, words)).capitalize() + "."


def speech(rng: np.random.Generator, path: Path, sentences: int = 3) -> Path:
    """espeak-ng reading random sentences in a random voice, variant, speed and pitch (WAV)."""
    text = " ".join(sentence(rng) for _ in range(sentences))
    voice = str(rng.choice(VOICES)) + str(rng.choice(VARIANTS))
    run(["espeak-ng", "-v", voice, "-s", str(int(rng.integers(140, 190))), "-p", str(int(rng.integers(30, 70))),
         "-w", str(path), text])  # fmt: skip
    return path


def audio_edit(source: Path, path: Path, edit: str, rng: np.random.Generator | None = None) -> Path:
    """``mp3`` (64 kbit/s), ``opus`` (16 kbit/s), ``phone`` (8 kHz, 300–3400 Hz band, μ-law),
    ``music`` (a random chord progression mixed under it at −10 dB), ``clip`` (6 s from 2.5 s)."""
    common = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(source)]
    if edit == "mp3":
        run([*common, "-c:a", "libmp3lame", "-b:a", "64k", str(path)])
    elif edit == "opus":
        run([*common, "-c:a", "libopus", "-b:a", "16k", str(path)])
    elif edit == "phone":
        run([*common, "-af", "highpass=f=300,lowpass=f=3400", "-ar", "8000", "-c:a", "pcm_mulaw", str(path)])
    elif edit == "clip":
        run([*common, "-ss", "2.5", "-t", "6", str(path)])
    elif edit == "music":
        rng = rng or np.random.default_rng(0)
        notes = [220 * 2 ** (int(k) / 12) for k in rng.integers(0, 24, 12)]
        chord = "+".join(
            f"0.2*sin(2*PI*{f:.2f}*t)*between(mod(t,6),{i % 6},{i % 6 + 1.5})" for i, f in enumerate(notes)
        )
        # speech and music normalised to the same RMS, then the music 10 dB down
        run([*common, "-f", "lavfi", "-i", f"aevalsrc='{chord}':s=22050:d=60",
             "-filter_complex", "[0:a]aresample=22050,loudnorm=I=-20:LRA=11:TP=-2[s];"
             "[1:a]loudnorm=I=-30:LRA=11:TP=-2[m];[s][m]amix=inputs=2:duration=first:normalize=0",
             "-ar", "22050", str(path)])  # fmt: skip
    else:
        raise ValueError(edit)
    return path

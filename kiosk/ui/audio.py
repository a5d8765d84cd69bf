"""The kiosk's second sense: short audio cues and spoken prompts (EN 301 549: more than one
sensory channel; timeouts announced in two senses).

Cues (a card was read, something needs attention, it worked, it did not) are short tones,
made here as WAV files once and played by ALSA's ``aplay``; they sound whenever ``ui.sound`` is
on. Spoken prompts (what a screen says, in the driver's language) come from ``espeak-ng`` in
the accessibility mode. Both run as child processes, so the GUI thread never waits for a
sound; a new prompt silences the one still speaking. Where a program is missing (a terminal
without speakers), that channel is off and the start-up log says so once; nothing else
changes.

Every cue and prompt asked for is kept in :attr:`Voice.heard` (the last few), for the tests and
the technician's screen.
"""

from __future__ import annotations

import contextlib
import logging
import math
import shutil
import struct
import subprocess
import tempfile
import threading
import wave
from collections import deque
from pathlib import Path

log = logging.getLogger(__name__)

RATE = 16_000
# cue → (tones in Hz, each tone's length in seconds): distinct in pitch and rhythm, not loud
CUES: dict[str, tuple[tuple[float, ...], float]] = {
    "card": ((1320.0,), 0.12),                # the card was read (the familiar beep)
    "attention": ((880.0, 880.0), 0.15),      # a timeout is near; a notice appeared
    "success": ((660.0, 880.0, 1320.0), 0.1),  # approved, paid
    "failure": ((440.0, 330.0), 0.2),         # declined, not possible
}
VOICES = {"en": "en-gb", "de": "de", "fr": "fr-fr", "nl": "nl"}
MAX_TEXT = 600  # a prompt is a screen's title and a sentence or two
HEARD = 20


def _tone_wav(path: Path, tones: tuple[float, ...], length_s: float) -> None:
    frames = bytearray()
    n = int(RATE * length_s)
    fade = max(1, n // 10)
    for freq in tones:
        for i in range(n):
            envelope = min(1.0, i / fade, (n - i) / fade)
            sample = int(9000 * envelope * math.sin(2 * math.pi * freq * i / RATE))
            frames += struct.pack("<h", sample)
        frames += b"\0\0" * int(RATE * 0.04)  # a short gap between tones
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(bytes(frames))


class Voice:
    """Cues and prompts; ``sound``: cues on; ``speech``: prompts on (the accessibility mode
    switches it)."""

    def __init__(self, *, sound: bool = True, speech: bool = False) -> None:
        self.sound = sound
        self.speech = speech
        self.aplay = shutil.which("aplay")
        self.espeak = shutil.which("espeak-ng")
        self.heard: deque[tuple[str, str]] = deque(maxlen=HEARD)  # ("cue", kind) | (lang, text)
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._cues: dict[str, Path] = {}
        self._speaking: subprocess.Popen[bytes] | None = None
        self._playing: list[subprocess.Popen[bytes]] = []
        self._lock = threading.Lock()
        if sound and self.aplay is None:
            log.info("no aplay: the kiosk gives no audio cues")
        elif sound:  # the tones are made off the GUI thread, before the first is needed
            threading.Thread(target=self._prepare, name="kiosk-cues", daemon=True).start()
        if self.espeak is None:
            log.info("no espeak-ng: the accessibility mode has no spoken prompts")

    def _prepare(self) -> None:
        for kind in CUES:
            self._cue_file(kind)

    def _cue_file(self, kind: str) -> Path:
        with self._lock:
            path = self._cues.get(kind)
            if path is None:
                if self._dir is None:
                    self._dir = tempfile.TemporaryDirectory(prefix="kiosk-cues-")
                path = Path(self._dir.name) / f"{kind}.wav"
                tones, length = CUES[kind]
                _tone_wav(path, tones, length)
                self._cues[kind] = path
            return path

    def cue(self, kind: str) -> None:
        if kind not in CUES:
            raise ValueError(f"no audio cue {kind!r}")
        if not self.sound:
            return
        self.heard.append(("cue", kind))
        if self.aplay is None:
            return
        self._reap()
        self._playing.append(self._spawn([self.aplay, "-q", str(self._cue_file(kind))]))

    def say(self, text: str, lang: str) -> None:
        """Speak ``text`` in ``lang`` (the accessibility mode); the one speaking stops."""
        text = " ".join(text.split())[:MAX_TEXT]
        if not self.speech or not text:
            return
        self.heard.append((lang, text))
        if self.espeak is None:
            return
        self.hush()
        voice = VOICES.get(lang, VOICES["en"])
        self._speaking = self._spawn([self.espeak, "-v", voice, "-s", "150", "--", text])

    def _spawn(self, argv: list[str]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, close_fds=True)

    def _reap(self) -> None:
        self._playing = [p for p in self._playing if p.poll() is None]

    def hush(self) -> None:
        """Stop the prompt being spoken (never waits: it is reaped later)."""
        if self._speaking is not None:
            if self._speaking.poll() is None:
                self._speaking.terminate()
            self._playing.append(self._speaking)
        self._speaking = None

    def close(self) -> None:
        self.hush()
        for p in self._playing:
            if p.poll() is None:
                p.terminate()
        for p in self._playing:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(0.5)
        self._playing = []
        with self._lock:
            if self._dir is not None:
                self._dir.cleanup()
                self._dir = None
            self._cues = {}

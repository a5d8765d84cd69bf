"""The second sense, with the real programs: the cue tones are valid WAV files of distinct
sounds, aplay takes them, and espeak-ng speaks every screen language (to a file here: the test
machine has no speakers)."""

from __future__ import annotations

import shutil
import subprocess
import wave
from pathlib import Path

import pytest

from kiosk.ui.audio import CUES, VOICES, Voice


def test_each_cue_is_a_short_distinct_wav_that_aplay_accepts(tmp_path: Path) -> None:
    voice = Voice(sound=True)
    try:
        lengths = {}
        for kind in CUES:
            path = voice._cue_file(kind)
            with wave.open(str(path)) as w:
                assert w.getnchannels() == 1 and w.getsampwidth() == 2
                lengths[kind] = w.getnframes() / w.getframerate()
            assert 0.05 < lengths[kind] < 1.0
            if shutil.which("aplay"):  # it reads the file (to the null device: no sound card)
                out = subprocess.run(["aplay", "-q", "-d", "1", "-D", "null", str(path)],
                                     capture_output=True, timeout=10, check=False)
                assert out.returncode == 0, out.stderr
        assert len({round(v, 3) for v in lengths.values()}) > 1  # not all alike
        with pytest.raises(ValueError, match="no audio cue"):
            voice.cue("fanfare")
    finally:
        voice.close()


@pytest.mark.parametrize("lang", sorted(VOICES))
def test_espeak_ng_speaks_every_screen_language(tmp_path: Path, lang: str) -> None:
    espeak = shutil.which("espeak-ng")
    assert espeak is not None, "espeak-ng is one of the Makefile's AUDIO_PACKAGES"
    out = tmp_path / "said.wav"
    subprocess.run([espeak, "-v", VOICES[lang], "-w", str(out), "--", "Station DEMO 0001"],
                   check=True, timeout=30, capture_output=True)
    with wave.open(str(out)) as w:
        assert w.getnframes() / w.getframerate() > 0.3  # something was said


def test_prompts_are_only_spoken_in_the_accessibility_mode_and_are_bounded() -> None:
    voice = Voice(sound=False, speech=False)
    try:
        voice.say("Hello", "en")
        assert list(voice.heard) == []
        voice.speech = True
        voice.say("  a \n long   text " * 200, "de")
        (lang, text), = voice.heard
        assert lang == "de" and len(text) <= 600 and "\n" not in text
        voice.cue("card")  # sound off: no cue
        assert len(voice.heard) == 1
    finally:
        voice.close()

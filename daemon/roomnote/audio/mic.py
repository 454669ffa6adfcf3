"""The microphone through PortAudio (pyaudio): audio in memory only, never on disk (P1).

`MicSource` opens the configured input device and hands every block it captures, as a new
int16 array, to `on_audio` (on PortAudio's thread: the receiver only queues it).
`FrameAssembler` (resample.py) turns those blocks into the 16 kHz mono frames the pipeline takes,
resampling in memory when the device only offers 44.1 or 48 kHz.

A device that stops delivering audio (unplugged, or hung) is reported once through
`on_lost`; PortAudio is initialised afresh at every open, so a device plugged back in is
found at the next session.
"""
from __future__ import annotations

import ctypes
import logging
import sys
import threading
import time
from typing import Callable

import numpy as np

from ..config import MicrophoneConfig
from ..errors import AudioError
from . import SAMPLE_RATE

log = logging.getLogger("roomnote.mic")

BLOCK_SECONDS = 0.032  # PortAudio delivers one block per 32 ms (512 samples at 16 kHz)
RATES = (SAMPLE_RATE, 48000, 44100)  # what the recognisers take first, then common device rates
STALL_SECONDS = 2.0  # no audio for this long while open: the device is gone
_PA_INPUT_OVERFLOW, _PA_CONTINUE = 0x2, 0  # PortAudio's paInputOverflow and paContinue (portaudio.h)


class MicrophoneError(AudioError):
    pass


def block_frames(rate: int) -> int:
    return round(rate * BLOCK_SECONDS)


class MicSource:
    def __init__(self, cfg: MicrophoneConfig, on_audio: Callable[[np.ndarray], None],
                 on_lost: Callable[[str], None], on_closed: Callable[[], None] = lambda: None,
                 stall_s: float = STALL_SECONDS):
        self.cfg = cfg
        self.on_audio, self.on_lost, self.on_closed = on_audio, on_lost, on_closed
        self.stall_s = stall_s
        self.pa = self.stream = None
        self.rate = self.channels = 0
        self.device = ""
        self.overflows = 0  # blocks PortAudio reported as overflowed (audio lost before them)
        self.blocks = 0
        self.closing = False
        self.last_audio = 0.0
        self.lock = threading.Lock()
        self.closed = threading.Event()
        self.late = False  # close() gave up waiting: on_closed reports the close

    # -- opening ----------------------------------------------------------------------------

    def open(self) -> None:
        """Open and start the stream; MicrophoneError says what is wrong and what to do."""
        import pyaudio

        self.pa = pyaudio.PyAudio()  # a fresh device list: a re-plugged microphone is seen
        try:
            index, self.device = find_device(self.pa, self.cfg.device)
            self.rate, self.channels = pick_format(self.pa, index, self.cfg.rate)
            self.last_audio = time.monotonic()
            self.stream = self.pa.open(format=pyaudio.paInt16, channels=self.channels, rate=self.rate,
                                       input=True, input_device_index=index,
                                       frames_per_buffer=block_frames(self.rate), stream_callback=self._captured)
        except OSError as e:
            self._terminate()
            raise MicrophoneError(f"cannot open microphone {self.device or self.cfg.device!r} ({_pa_reason(e)}); "
                                  "check that it is plugged in and not used by another program") from None
        except MicrophoneError:
            self._terminate()
            raise
        log.info("microphone open", extra={"DEVICE": self.device, "RATE": self.rate, "CHANNELS": self.channels})
        threading.Thread(target=self._watch, name="mic-watch", daemon=True).start()

    def _captured(self, data: bytes, frames: int, time_info, status: int):
        if status & _PA_INPUT_OVERFLOW:
            self.overflows += 1
        if not self.closing:
            block = np.frombuffer(data, np.int16).copy()
            self.blocks += 1
            self.last_audio = time.monotonic()
            self.on_audio(block)
        wipe_bytes(data)
        return None, _PA_CONTINUE

    def _watch(self) -> None:
        """Report a device that stopped (PortAudio ended the stream) or stalled."""
        while not self.closing:
            time.sleep(0.1)
            if self.closing:
                return
            try:
                active = self.stream.is_active()
            except OSError:
                return  # closed meanwhile
            if not active:
                reason = "the audio stream stopped"
            elif time.monotonic() - self.last_audio > self.stall_s:
                reason = f"no audio for {self.stall_s:g} s"
            else:
                continue
            log.warning("microphone lost", extra={"DEVICE": self.device, "REASON": reason})
            self.on_lost(reason)
            return

    # -- closing ----------------------------------------------------------------------------

    def close(self, timeout: float = 2.0) -> bool:
        """Stop and close the stream. True once it is closed; False if it is still closing
        after `timeout` (a hung device): `on_closed` is called when it finally closes."""
        if self.stream is None:
            return True
        self.closing = True
        threading.Thread(target=self._close, name="mic-close", daemon=True).start()
        if self.closed.wait(timeout):
            return True
        with self.lock:
            if self.closed.is_set():
                return True
            self.late = True
        log.warning("microphone still closing", extra={"DEVICE": self.device, "WAITED_S": timeout})
        return False

    def _close(self) -> None:
        try:
            self.stream.close()
        except OSError:
            pass  # a device that is gone may fail to stop: it is closed all the same
        self._terminate()
        with self.lock:
            self.closed.set()
            late = self.late
        log.info("microphone closed", extra={"DEVICE": self.device, "BLOCKS": self.blocks,
                                             "OVERFLOWS": self.overflows})
        if late:
            self.on_closed()

    def _terminate(self) -> None:
        if self.pa is not None:
            self.pa.terminate()
            self.pa = None


def find_device(pa, spec: str) -> tuple[int, str]:
    """The input device `spec` names: "" the default, a number an index, else (part of) a name."""
    inputs = []
    for i in range(pa.get_device_count()):
        info = pa.get_device_info_by_index(i)
        if info["maxInputChannels"] > 0:
            inputs.append((i, info["name"]))
    listing = ", ".join(f"{i}: {n}" for i, n in inputs) or "none"
    if not inputs:
        raise MicrophoneError("no audio input device found; plug in the microphone (and check that the "
                              "roomnote user is in the audio group)")
    if spec == "":
        try:
            info = pa.get_default_input_device_info()
            return info["index"], info["name"]
        except OSError:
            return inputs[0]
    if spec.isdigit():
        for i, name in inputs:
            if i == int(spec):
                return i, name
        raise MicrophoneError(f"microphone.device: no input device with index {spec}; input devices: {listing}")
    for i, name in inputs:
        if name == spec:
            return i, name
    for i, name in inputs:
        if spec.lower() in name.lower():
            return i, name
    raise MicrophoneError(f"microphone.device: no input device named {spec!r}; input devices: {listing}; "
                          "plug it in or set microphone.device to one of these")


def pick_format(pa, index: int, rate: int) -> tuple[int, int]:
    """(rate, channels): mono if the device offers it, at `rate` or the first of RATES it takes."""
    import pyaudio

    def ok(r: int, ch: int) -> bool:
        try:
            return pa.is_format_supported(r, input_device=index, input_channels=ch, input_format=pyaudio.paInt16)
        except ValueError:
            return False

    for ch in (1, 2):
        for r in ([rate] if rate else RATES):
            if ok(r, ch):
                return r, ch
    wanted = f"{rate} Hz" if rate else "16000, 48000 or 44100 Hz"
    raise MicrophoneError(f"the microphone does not record 16-bit audio at {wanted}; "
                          "set microphone.rate to a rate it supports, or choose another microphone.device")


# CPython keeps a bytes object's contents at a fixed offset after its header.
_BYTES_OFFSET = sys.getsizeof(b"") - 1 if sys.implementation.name == "cpython" else None


def wipe_bytes(data: bytes) -> None:
    """Zero the audio in a bytes object PortAudio handed over (P1).

    pyaudio gives each block as a new, immutable bytes object that only the callback
    holds; overwriting it in place means the freed memory holds no speech. Objects of 0 or
    1 byte are shared by CPython and never audio, so they are left alone.
    """
    if _BYTES_OFFSET is not None and len(data) > 1:
        ctypes.memset(id(data) + _BYTES_OFFSET, 0, len(data))


def _pa_reason(e: OSError) -> str:
    args = e.args
    if len(args) >= 2 and isinstance(args[1], str):
        return args[1]
    return str(e) or e.__class__.__name__

"""A real ALSA capture device for PortAudio without a sound card: the room's microphone.

ALSA's `file` PCM plugin reads its capture data from `infile`; here infile is a FIFO that
`RoomMicrophone` writes at real pace: silence, or speech when a test speaks into the room.
The whole path runs for real: ALSA config (ALSA_CONFIG_PATH) -> PortAudio -> pyaudio ->
MicSource.

How the plugin behaves (found by trying, alsa-lib 1.2.8, PortAudio 19.6):
- it opens infile when the PCM is opened, and PortAudio opens every device when it
  initialises. Once a reader has come, the writer keeps the FIFO open across readers
  (writing into it only while one is there), so that no reader's open waits for this
  thread: pyaudio holds the GIL while PortAudio opens a device (is_format_supported), and
  a reader waiting there for a writer thread of the same process would wait forever;
- its `null` slave is not paced: the FIFO writer is the clock;
- a short read is padded with stale buffer contents, so the writer writes whole blocks of
  the period MicSource asks for (32 ms);
- an exhausted infile (writer closed) gives no error and no silence: stale data as fast as
  it is read. So a device that is lost looks like this here: the writer stops writing
  (`stall`, the read blocks, nothing arrives; PortAudio cannot even close the stream), then
  goes away (`unplug`: closing the FIFO releases the blocked read);
- PortAudio 19.6 asserts when every ALSA device it lists opens, so the config also names
  one that cannot (`pcm.absent`).
"""
from __future__ import annotations

import contextlib
import errno
import os
import queue
import threading
import time
from pathlib import Path

import numpy as np

from roomnote.audio.mic import block_frames

NAME = "roomnote_test_mic"


@contextlib.contextmanager
def room_microphone(directory: Path, speed: float = 1.0):
    """A RoomMicrophone that this process's PortAudio sees (ALSA_CONFIG_PATH), closed after."""
    mic = RoomMicrophone(directory)
    mic.speed = speed
    old = os.environ.get("ALSA_CONFIG_PATH")
    os.environ.update(mic.env)
    try:
        yield mic
    finally:
        mic.close()
        if old is None:
            os.environ.pop("ALSA_CONFIG_PATH", None)
        else:
            os.environ["ALSA_CONFIG_PATH"] = old


class RoomMicrophone:
    def __init__(self, directory: Path, rate: int = 16000):
        self.rate = rate  # set it to the rate the stream under test will open at
        self.speed = 1.0  # real time; a benchmark may play faster
        directory.mkdir(parents=True, exist_ok=True)
        self.fifo = directory / "mic.fifo"
        os.mkfifo(self.fifo)
        self.config = directory / "asound.conf"
        self.config.write_text(
            f'pcm.{NAME} {{\n  type file\n  slave.pcm {{ type null }}\n  file "/dev/null"\n'
            f'  infile "{self.fifo}"\n  format "raw"\n}}\n'
            "pcm.absent { type hw card 99 }  # see roommic.py: PortAudio 19.6 needs one device that fails\n")
        self.env = {"ALSA_CONFIG_PATH": str(self.config)}
        self.speech: queue.SimpleQueue = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.spoken = threading.Event()
        self.spoken.set()
        self.stalled = threading.Event()
        self.unplugged = threading.Event()
        self.closed = threading.Event()
        self.readers = 0  # times the writer opened the FIFO (at the first reader, and after a replug)
        self.thread = threading.Thread(target=self._write, name="room-mic", daemon=True)
        self.thread.start()

    # -- what a test does to the room ------------------------------------------------------

    def speak(self, samples: np.ndarray) -> None:
        """Play int16 samples (at this microphone's rate) into the room, from now on."""
        pcm = np.asarray(samples, np.int16)
        pad = (-len(pcm)) % block_frames(self.rate)
        with self.lock:  # the writer must not see "nothing left to say" in between
            self.spoken.clear()
            self.speech.put(np.concatenate([pcm, np.zeros(pad, np.int16)]).tobytes())

    def wait_spoken(self, timeout: float = 120) -> None:
        assert self.spoken.wait(timeout), "speech was not played"

    def stall(self) -> None:
        """The device stops delivering audio (reads block)."""
        self.stalled.set()

    def unplug(self) -> None:
        """The device is gone: the FIFO closes, releasing a blocked read."""
        self.unplugged.set()

    def replug(self) -> None:
        self.stalled.clear()
        self.unplugged.clear()

    def close(self) -> None:
        self.closed.set()
        self.thread.join(5)
        self.fifo.unlink(missing_ok=True)

    # -- the writer ------------------------------------------------------------------------

    def _write(self) -> None:
        """One block per block time, always: written when a reader has the FIFO open, else lost
        (speech goes on in the room whether or not anyone listens)."""
        current, pos, fd = b"", 0, None
        due = time.monotonic()
        while not self.closed.is_set():
            if fd is None and not self.unplugged.is_set():
                try:  # non-blocking: ENXIO until a reader has the FIFO open
                    fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)
                    os.set_blocking(fd, True)
                    self.readers += 1
                except OSError as e:
                    if e.errno != errno.ENXIO:
                        raise
            if fd is not None and self.unplugged.is_set():
                os.close(fd)
                fd = None
            block = block_frames(self.rate)
            if pos >= len(current):
                with self.lock:
                    try:
                        current, pos = self.speech.get_nowait(), 0
                    except queue.Empty:
                        current, pos = b"", 0
                        self.spoken.set()
            chunk = current[pos:pos + block * 2] if current else bytes(block * 2)
            pos += len(chunk)
            if fd is not None and not self.stalled.is_set():
                try:
                    os.write(fd, chunk)
                except BrokenPipeError:  # no reader now (PortAudio listing devices, a stream closed):
                    pass  # the audio is lost; the FIFO stays open for the next reader (see above)
            due += block / self.rate / self.speed
            time.sleep(max(0.0, due - time.monotonic()))
        if fd is not None:
            os.close(fd)

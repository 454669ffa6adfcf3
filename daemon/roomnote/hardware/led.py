"""The recording LED: named patterns, and promise P3 enforced in one place.

While the microphone may be open the LED shows only patterns that never go dark (steady on,
or the end-of-session warning that dims but stays lit), whatever the appliance asks for;
the requested pattern appears once the microphone has closed.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Pattern:
    steps: tuple[tuple[float, float], ...]  # (brightness 0..1, seconds); one step = steady
    repeat: bool = True
    then: str | None = None  # a one-shot pattern is followed by this one (None: the one before)

    @property
    def never_dark(self) -> bool:
        return all(level > 0 for level, _ in self.steps)


def _pulse(period: float, steps: int = 10) -> tuple[tuple[float, float], ...]:
    up = [(i / steps, period / 2 / steps) for i in range(steps + 1)]
    return tuple(up + up[-2:0:-1])


PATTERNS: dict[str, Pattern] = {
    "off": Pattern(((0.0, 0.0),)),  # idle
    "armed": Pattern(((1.0, 0.1), (0.0, 1.9))),  # consent attested: a blip every 2 s, press to start
    "on": Pattern(((1.0, 0.0),)),  # the microphone is open
    "warning": Pattern(((1.0, 0.7), (0.3, 0.3))),  # recording stops soon: dims, never dark (P3)
    "processing": Pattern(_pulse(2.0)),  # slow pulse: the note is being made and handed on
    "ack": Pattern(((0.0, 0.1), (1.0, 0.1), (0.0, 0.1)), repeat=False),  # press noted, ignored
    "delivered": Pattern(((1.0, 0.15), (0.0, 0.15), (1.0, 0.15), (0.0, 0.15)), repeat=False, then="off"),
    "refused": Pattern(((1.0, 0.05), (0.0, 0.1)) * 3 + ((0.0, 0.4),), repeat=False, then="off"),
    "error": Pattern(((1.0, 0.1), (0.0, 0.1))),  # fast blink until the next press
}


class StatusLight:
    """Plays PATTERNS on a gpiozero LED or PWMLED (without PWM, any brightness above 0 is on).

    Every change takes effect before the call returns: the first step is set on the
    caller's thread, a player thread does the rest.
    """

    def __init__(self, led):
        self.led = led
        self.pwm = hasattr(led, "pulse")  # PWMLED: brightness; LED: on/off
        self.lock = threading.RLock()
        self.wanted = "off"  # what the appliance asked for
        self.pattern = "off"  # what is shown
        self.mic_open = False
        self.stop = threading.Event()
        self.player: threading.Thread | None = None
        self._set(0.0)

    def show(self, name: str) -> None:
        """Show a pattern; a one-shot pattern falls back to the one before it when done."""
        with self.lock:
            if name not in PATTERNS:
                raise KeyError(name)
            if not PATTERNS[name].repeat and PATTERNS[name].then is None:
                self._play(name)  # then back to what was wanted before
                return
            self.wanted = name
            self._apply()

    def microphone_opening(self) -> None:
        """Call before the audio stream opens: the LED is lit when this returns (P3)."""
        with self.lock:
            self.mic_open = True
            self._apply()

    def microphone_closed(self) -> None:
        """Call once the stream has closed: the requested pattern takes over."""
        with self.lock:
            self.mic_open = False
            self._apply()

    def close(self) -> None:
        with self.lock:
            self._stop_player()
            if not self.mic_open:
                self._set(0.0)
            self.led.close()

    def _apply(self) -> None:
        name = self.wanted
        if self.mic_open and not PATTERNS[name].never_dark:
            name = "on"
        if name != self.pattern or self.player is None:
            self._play(name)

    def _play(self, name: str) -> None:
        if self.mic_open and not PATTERNS[name].never_dark:
            return  # an acknowledgement never darkens an open microphone's LED
        self._stop_player()
        pattern = PATTERNS[name]
        self.pattern = name
        self._set(pattern.steps[0][0])  # synchronously: P3 relies on it
        if len(pattern.steps) > 1 or not pattern.repeat:
            self.stop = threading.Event()
            self.player = threading.Thread(target=self._run, args=(pattern, self.stop),
                                           name=f"led-{name}", daemon=True)
            self.player.start()
        else:
            self.player = None

    def _run(self, pattern: Pattern, stop: threading.Event) -> None:
        first = True
        while True:
            for level, seconds in pattern.steps:
                if not first:
                    self._set(level)
                first = False
                if stop.wait(seconds):
                    return
            if not pattern.repeat:
                break
        # a one-shot pattern ended: hand over, unless show() is replacing this player
        while not self.lock.acquire(timeout=0.02):
            if stop.is_set():
                return
        try:
            if stop.is_set():
                return
            self.player = None
            if pattern.then:
                self.wanted = pattern.then
            self._apply()
        finally:
            self.lock.release()

    def _stop_player(self) -> None:
        if self.player is not None:
            self.stop.set()
            if self.player is not threading.current_thread():
                self.player.join()
            self.player = None

    def _set(self, level: float) -> None:
        self.led.value = level if self.pwm else (level > 0)

"""The record button and the LED on their GPIO pins.

The button is wired from its pin to ground (internal pull-up). A short press acts on
release, so that a long press is never first taken for a short one; a long press acts as
soon as it has lasted `long_press_s`, without waiting for the release.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..config import HardwareConfig
from ..errors import RoomnoteError
from .led import StatusLight


class HardwareError(RoomnoteError):
    pass


class RecordButton:
    def __init__(self, button, on_press: Callable[[], None], on_long_press: Callable[[], None]):
        self.button = button
        self.on_press, self.on_long_press = on_press, on_long_press
        self.held = False
        button.when_pressed = self._pressed
        button.when_held = self._held
        button.when_released = self._released

    def _pressed(self) -> None:
        self.held = False

    def _held(self) -> None:
        self.held = True
        self.on_long_press()

    def _released(self) -> None:
        if not self.held:
            self.on_press()
        self.held = False

    def close(self) -> None:
        self.button.close()


@dataclass(frozen=True)
class Press:
    """A short press of the button (an event for the owner's queue)."""


@dataclass(frozen=True)
class LongPress:
    """The button held for hardware.long_press_s."""


def open_panel(cfg: HardwareConfig, on_press: Callable[[], None], on_long_press: Callable[[], None],
               pin_factory=None) -> tuple[RecordButton, StatusLight]:
    """The button and the LED; one clear error when the pins cannot be had."""
    from gpiozero import LED, Button, GPIOZeroError, PWMLED
    from gpiozero.exc import PinPWMUnsupported

    if cfg.button_pin == cfg.led_pin:
        raise HardwareError(f"hardware.button_pin and hardware.led_pin are both GPIO{cfg.led_pin}; "
                            "set the pins the button and the LED are wired to")
    import warnings

    from gpiozero.exc import BadPinFactory, PinFactoryFallback

    button = None
    try:
        with warnings.catch_warnings():  # one line below says what matters, not one per factory tried
            warnings.simplefilter("ignore", PinFactoryFallback)
            button = Button(cfg.button_pin, pull_up=True, bounce_time=0.02, hold_time=cfg.long_press_s,
                            pin_factory=pin_factory)
            try:
                led = PWMLED(cfg.led_pin, pin_factory=pin_factory)
            except PinPWMUnsupported:
                led = LED(cfg.led_pin, pin_factory=pin_factory)
    except Exception as e:
        if button is not None:
            button.close()  # the LED's pin failed: do not keep the button's
        if _in_use(e):
            raise HardwareError(f"GPIO{cfg.button_pin} (button) or GPIO{cfg.led_pin} (LED) is in use by another "
                                "program: 'roomnote run' (the roomnote service) and 'roomnote enroll' cannot run at "
                                "the same time; stop the other one (systemctl stop roomnote) and try again") from None
        if isinstance(e, BadPinFactory):
            raise HardwareError("no GPIO pins found (no pin library works here: not a Raspberry Pi or Jetson, or "
                                "python3-lgpio is missing); the button and LED need the box's own pins") from None
        if isinstance(e, GPIOZeroError):
            raise HardwareError(f"cannot use GPIO{cfg.button_pin} (button) and GPIO{cfg.led_pin} (LED): {e}; "
                                "check hardware.button_pin and hardware.led_pin, and that the roomnote user "
                                "is in the gpio group") from None
        raise
    return RecordButton(button, on_press, on_long_press), StatusLight(led)


def _in_use(e: Exception) -> bool:
    """A pin another device holds: gpiozero's own reservation (one process), or the kernel's
    (lgpio on a Pi says "GPIO busy" when another process has claimed the line)."""
    from gpiozero.exc import GPIOPinInUse

    return isinstance(e, GPIOPinInUse) or "busy" in str(e).lower()

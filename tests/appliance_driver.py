"""`roomnote run` in this process on gpiozero's mock pins, its button worked by a test.

    python tests/appliance_driver.py run --config FILE

The daemon is the real one (the console entry point, on the main thread, with its signal
handlers); only the GPIO pins are gpiozero's MockFactory pins, since the test has no
board. Commands on stdin, one per line, each answered by one line on stdout:
"press" (a short press), "hold SECONDS", "led" (the LED's level).
"""
import os
import sys
import threading
import time

os.environ["GPIOZERO_PIN_FACTORY"] = "mock"
os.environ["GPIOZERO_MOCK_PIN_CLASS"] = "mockpwmpin"

from gpiozero import Device  # noqa: E402

from roomnote import cli  # noqa: E402

BUTTON, LED = 17, 27


def serve() -> None:
    while Device.pin_factory is None:  # created with the daemon's first device
        time.sleep(0.01)
    button, led = Device.pin_factory.pin(BUTTON), Device.pin_factory.pin(LED)
    for line in sys.stdin:
        cmd = line.split()
        if cmd and cmd[0] in ("press", "hold"):
            button.drive_low()
            time.sleep(float(cmd[1]) if cmd[0] == "hold" else 0.05)
            button.drive_high()
            print("ok", flush=True)
        elif cmd == ["led"]:
            print(float(led.state), flush=True)
        else:
            print(f"unknown command {line.strip()!r}", flush=True)


threading.Thread(target=serve, name="driver", daemon=True).start()
sys.exit(cli.main(sys.argv[1:]))

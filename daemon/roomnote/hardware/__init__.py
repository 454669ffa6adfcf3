"""The box's controls: one button and one LED, through gpiozero (pins from the configuration)."""

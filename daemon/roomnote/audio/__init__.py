"""Audio sources and voice activity detection. Audio is held in memory only (promise P1)."""

SAMPLE_RATE = 16000  # what the VAD and the recognisers take
FRAME_SAMPLES = 512  # 32 ms: the window Silero VAD takes at 16 kHz

"""bench stage of slap-edge: latency of the listen path per stage, beside the alternatives a user would pick.

- `stats`: pure statistics (percentiles, RTF, CPU share, run-to-run comparison).
- `schedule`: the fixed audio every backend and peer hears (espeak-ng speech, files, or a tone stand-in).
- `listen_path`: the runtime's Listener/Stream/Engine measured per stage; torch/torchao swap only the encoder.
- `peers`: teacher (PyTorch fp32), Resemblyzer, Silero VAD as cost per second of audio.
- `runner`: `run_bench`, each backend and peer in its own child process (`worker`); `report`: tables, JSON, PNG.
- `mic_latency` + `vmic`: onset-to-event time of `slap-edge listen` through a virtual microphone.

Nothing here imports torch at module level.
"""

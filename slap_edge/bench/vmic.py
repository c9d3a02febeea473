"""A virtual microphone for measuring mic-to-event latency on a headless machine.

A private PulseAudio daemon (no D-Bus, works as root) with a null sink ``vmic`` whose monitor, remapped as
``vmic_mic``, is the default source: what `paplay --device=vmic` plays is what PortAudio (and so `slap-edge listen`)
records. A loopback from the monitor to a drain sink keeps the null sink rendering in small blocks (otherwise an idle
null sink runs ~2 s ahead and a new recorder loses that audio); ``vmic_spk`` is the default sink, so nothing the
program plays echoes back. The recipe and its pitfalls are measured in ``shared/tools/vmic/README.md``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

PULSE_HINT = "apt-get install -y --no-install-recommends pulseaudio pulseaudio-utils libasound2-plugins libportaudio2"

_SCRIPT = """.fail
load-module module-native-protocol-unix auth-anonymous=1 socket={sock}
load-module module-null-sink sink_name=vmic format=s16le rate={rate} channels=1 channel_map=mono
load-module module-remap-source source_name=vmic_mic master=vmic.monitor channels=1 channel_map=mono
load-module module-null-sink sink_name=vmic_drain format=s16le rate={rate} channels=1 channel_map=mono
load-module module-loopback source=vmic.monitor sink=vmic_drain latency_msec=30 {keep}
load-module module-null-sink sink_name=vmic_spk format=s16le rate={rate} channels=2
set-default-sink vmic_spk
set-default-source vmic_mic
suspend-sink vmic 1
suspend-sink vmic 0
"""


class VirtualMicError(RuntimeError):
    """PulseAudio is missing or the daemon did not come up; the message says what to install or shows its log."""


class VirtualMic:
    """``with VirtualMic() as mic: subprocess.Popen(cmd, env=mic.env); mic.play("x.wav")``."""

    def __init__(self, rate: int = 48000) -> None:
        self.rate = rate
        self._dir: Path | None = None
        self._pid: int | None = None
        self.env: dict[str, str] = {}

    def start(self) -> VirtualMic:
        missing = [t for t in ("pulseaudio", "pacat", "paplay") if shutil.which(t) is None]
        if missing:
            raise VirtualMicError(f"{', '.join(missing)} not found: {PULSE_HINT}")
        self._dir = Path(tempfile.mkdtemp(prefix="slap-vmic-"))
        run = self._dir / "xdg"
        (run / "pulse").mkdir(parents=True)
        (self._dir / "home").mkdir()
        os.chmod(run, 0o700)
        os.chmod(run / "pulse", 0o700)
        sock = run / "pulse" / "native"
        script = self._dir / "vmic.pa"
        keep = "source_dont_move=true sink_dont_move=true"
        script.write_text(_SCRIPT.format(sock=sock, rate=self.rate, keep=keep), encoding="utf-8")
        self.env = {
            **os.environ,
            "HOME": str(self._dir / "home"),
            "XDG_RUNTIME_DIR": str(run),
            "PULSE_SERVER": f"unix:{sock}",
            "PULSE_COOKIE": str(self._dir / "home" / "cookie"),
            "PULSE_SINK": "vmic_spk",
            "PULSE_SOURCE": "vmic_mic",
        }
        log = self._dir / "pulseaudio.log"
        # --no-cpu-limit: under load PulseAudio would otherwise kill itself with SIGXCPU.
        cmd = ["pulseaudio", "--daemonize=yes", "-n", "-F", str(script), "--system=false", "--exit-idle-time=-1"]
        cmd += ["--use-pid-file=yes", "--no-cpu-limit", "--disallow-exit=yes", f"--log-target=file:{log}"]
        proc = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=30)
        if proc.returncode != 0:
            text = log.read_text(errors="replace")[-800:] if log.is_file() else proc.stderr[-800:]
            self.stop()
            raise VirtualMicError(f"pulseaudio did not start:\n{text}")
        self._pid = int((run / "pulse" / "pid").read_text().strip())
        if not self._audio_flows():
            self.stop()
            raise VirtualMicError("the virtual microphone started but delivers no audio")
        return self

    def _audio_flows(self) -> bool:
        """True once 0.1 s of (silent) audio can be read from the virtual microphone."""
        cmd = ["pacat", "-r", "--device=vmic_mic", "--raw", "--rate=16000", "--channels=1", "--format=s16le"]
        for _ in range(10):
            probe = subprocess.Popen(cmd, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            try:
                data = probe.stdout.read(3200) if probe.stdout else b""
            finally:
                probe.kill()
                probe.wait()
            if len(data) >= 3200:
                return True
            time.sleep(0.2)
        return False

    def play(self, path: str | Path) -> subprocess.Popen:
        """Start playing a sound file into the microphone; returns the player process."""
        if self._pid is None:
            raise VirtualMicError("the virtual microphone is not running; call start() first")
        return subprocess.Popen(
            ["paplay", "--device=vmic", str(path)], env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

    def stop(self) -> None:
        """Stop only the daemon this object started, and remove its folder."""
        if self._pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, signal.SIGTERM)
                for _ in range(50):
                    os.kill(self._pid, 0)
                    time.sleep(0.1)
                os.kill(self._pid, signal.SIGKILL)
            self._pid = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> VirtualMic:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

"""Audio sources: a microphone (sounddevice/PortAudio), a file, or raw 16-bit PCM on stdin.

Every source yields mono float32 chunks at the requested rate, or a `Gap` where audio is missing (a device lost or
an overrun). The microphone callback only copies into a preallocated ring buffer and notes the time and the overflow
flag; reading, resampling and everything else happen on the listener's thread.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from slap_edge.runtime.ring import RingBuffer

log = logging.getLogger("slap_edge.runtime")

PORTAUDIO_HINT = "install PortAudio: sudo apt-get install -y libportaudio2 (Debian, Ubuntu, Raspberry Pi OS)"


class AudioSourceError(RuntimeError):
    """An input that cannot be read; the message names it and says what would work."""


class DeviceError(AudioSourceError):
    """No usable input device; the message lists the devices there are."""


@dataclasses.dataclass(frozen=True)
class Gap:
    """``samples`` (at the source's output rate) that will never arrive.

    ``dropped``: audio existed but was discarded (an overrun); otherwise there was none (a device was lost).
    """

    samples: int
    dropped: bool


Chunk = np.ndarray | Gap


# Raw PCM on stdin is taken at the rate it is said to have; these bound what a capture can plausibly be.
MIN_RAW_RATE = 4000
MAX_RAW_RATE = 768000
MAX_RAW_CHANNELS = 64
# The first bytes of container formats that someone might pipe into `--input -` instead of raw PCM.
_CONTAINER_MAGIC = (
    (b"RIFF", "WAV"),
    (b"RF64", "WAV (RF64)"),
    (b"fLaC", "FLAC"),
    (b"OggS", "Ogg (Vorbis/Opus)"),
    (b"ID3", "MP3"),
    (b"FORM", "AIFF"),
    (b".snd", "AU"),
    (b"\x1aE\xdf\xa3", "WebM/Matroska"),
)


def container_format(head: bytes) -> str | None:
    """The container format whose signature ``head`` starts with (WAV, FLAC, ...), or None for raw data."""
    for magic, name in _CONTAINER_MAGIC:
        if head.startswith(magic):
            return name
    return None


class DownmixCheck:
    """Warns once when averaging the channels cancels them (anti-phase stereo, a mis-wired microphone).

    Energy is summed over the whole input; the warning fires once at least ``min_s`` of loud multi-channel audio has
    mixed down to less than ``ratio`` of the channels' own energy (-20 dB by default).
    """

    def __init__(self, name: str, sample_rate: int, ratio: float = 0.01, min_s: float = 0.5) -> None:
        self.name = name
        self.min_frames = max(1, int(min_s * sample_rate))
        self.ratio = ratio
        self.frames = 0
        self.channel_energy = 0.0
        self.mix_energy = 0.0
        self.warned = False

    def update(self, data: np.ndarray) -> None:
        """Fold in a block [frames, channels] as read (before the mix to mono)."""
        if self.warned or data.ndim != 2 or data.shape[1] < 2 or data.shape[0] == 0:
            return
        # Measured on what the model will get: NaN/inf zeroed and values clamped, as the stream's guard does.
        x = np.clip(np.nan_to_num(data.astype(np.float64), nan=0.0, posinf=1.0, neginf=-1.0), -1.0, 1.0)
        self.channel_energy += float(np.mean(x * x, axis=1).sum())
        self.mix_energy += float(np.square(x.mean(axis=1)).sum())
        self.frames += data.shape[0]
        loud = self.channel_energy / max(1, self.frames) > 1e-6  # above -60 dBFS
        if self.frames >= self.min_frames and loud and self.mix_energy < self.ratio * self.channel_energy:
            self.warned = True
            db = 10 * np.log10(max(self.mix_energy, 1e-20) / self.channel_energy)
            log.warning(
                "%s: the channels cancel when mixed to mono (%.0f dB): anti-phase stereo or a mis-wired microphone; "
                "the model hears almost nothing. Fix the wiring, or pass one channel (e.g. sox in.wav out.wav remix 1)",
                self.name,
                db,
            )


def to_mono(data: np.ndarray) -> np.ndarray:
    """[frames] or [frames, channels] -> float32 [frames], averaging channels."""
    data = np.asarray(data)
    if data.ndim == 2:
        data = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    return np.asarray(data, dtype=np.float32)


class Resampler:
    """Streaming resampling with soxr (identity when the rates agree)."""

    def __init__(self, in_rate: int, out_rate: int) -> None:
        self.in_rate, self.out_rate = int(in_rate), int(out_rate)
        self._stream = None
        if self.in_rate != self.out_rate:
            import soxr

            self._stream = soxr.ResampleStream(self.in_rate, self.out_rate, 1, dtype="float32", quality="HQ")

    def __call__(self, x: np.ndarray, last: bool = False) -> np.ndarray:
        if self._stream is None:
            return x
        return self._stream.resample_chunk(np.ascontiguousarray(x, dtype=np.float32), last=last)


def _require_file(path: Path) -> None:
    # libsndfile says "System error" for a missing file and the generic hint lists formats: neither helps.
    if not path.exists():
        raise AudioSourceError(f"no such file: {path}")
    if path.is_dir():
        raise AudioSourceError(f"{path}: is a folder; give an audio file (WAV, FLAC or OGG)")


def read_audio(path: str | Path, sample_rate: int) -> np.ndarray:
    """A whole file as mono float32 at ``sample_rate`` (any rate, channels, bit depth that libsndfile reads)."""
    import soundfile as sf

    path = Path(path)
    _require_file(path)
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # libsndfile raises its own error types for corrupt files
        raise AudioSourceError(f"{path}: cannot read audio ({exc}); use WAV, FLAC or OGG") from exc
    if data.shape[0] == 0:
        raise AudioSourceError(f"{path}: the audio file is empty (0 samples)")
    x = to_mono(data)
    DownmixCheck(str(path), int(rate)).update(data)
    if rate != sample_rate:
        import soxr

        x = soxr.resample(x, rate, sample_rate, quality="HQ").astype(np.float32)
    return x


class FileSource:
    """A sound file, paced in real time (as a microphone would deliver it) or as fast as possible."""

    live = False

    def __init__(self, path: str | Path, sample_rate: int, realtime: bool = True, chunk_s: float = 0.1) -> None:
        import soundfile as sf

        self.path = Path(path)
        self.sample_rate = sample_rate
        self.realtime = realtime
        _require_file(self.path)
        try:
            info = sf.info(str(self.path))
        except Exception as exc:  # libsndfile raises its own error types for corrupt files
            raise AudioSourceError(f"{self.path}: cannot read audio ({exc}); use WAV, FLAC or OGG") from exc
        if info.frames == 0:
            raise AudioSourceError(f"{self.path}: the audio file is empty (0 samples)")
        self.file_rate = int(info.samplerate)
        self.duration_s = info.frames / info.samplerate
        self._block = max(1, int(round(chunk_s * self.file_rate)))
        self.overflows = 0
        self._stopped = False

    def chunks(self) -> Iterator[Chunk]:
        import soundfile as sf

        resample = Resampler(self.file_rate, self.sample_rate)
        downmix = DownmixCheck(str(self.path), self.file_rate)
        emitted = 0
        t0 = time.monotonic()
        try:
            with sf.SoundFile(str(self.path)) as f:
                while not self._stopped:
                    data = f.read(self._block, dtype="float32", always_2d=True)
                    last = data.shape[0] < self._block
                    mono = to_mono(data)
                    downmix.update(data)
                    x = resample(mono, last=last)
                    if x.shape[0]:
                        emitted += x.shape[0]
                        if self.realtime:
                            # A chunk exists only once its last sample would have been captured.
                            delay = t0 + emitted / self.sample_rate - time.monotonic()
                            if delay > 0:
                                time.sleep(delay)
                        yield x
                    if last:
                        break
        except sf.LibsndfileError as exc:
            raise AudioSourceError(f"{self.path}: cannot read audio ({exc})") from exc

    def stop(self) -> None:
        self._stopped = True

    def close(self) -> None:
        self.stop()


class StdinSource:
    """Raw signed 16-bit little-endian PCM (``arecord -f S16_LE``, GStreamer) from a binary stream."""

    live = True

    def __init__(
        self,
        sample_rate: int,
        rate: int,
        channels: int = 1,
        stream: BinaryIO | None = None,
        chunk_s: float = 0.05,
    ) -> None:
        if not MIN_RAW_RATE <= rate <= MAX_RAW_RATE:
            raise AudioSourceError(
                f"stdin: --rate {rate} Hz is not a capture rate; give the rate of the raw PCM, between {MIN_RAW_RATE} "
                f"and {MAX_RAW_RATE} Hz (e.g. 16000, 44100, 48000)"
            )
        if not 1 <= channels <= MAX_RAW_CHANNELS:
            raise AudioSourceError(f"stdin: --channels {channels}: expected 1 to {MAX_RAW_CHANNELS}")
        self.stream = stream if stream is not None else sys.stdin.buffer
        self.sample_rate = sample_rate
        self.rate = rate
        self.channels = channels
        self._frame_bytes = 2 * channels
        self._chunk_bytes = max(1, int(round(chunk_s * rate))) * self._frame_bytes
        self.overflows = 0
        self.bytes_read = 0
        self._stopped = False

    def _check_head(self, head: bytes) -> None:
        found = container_format(head)
        if found is None:
            return
        detail = ""
        if found.startswith("WAV") and len(head) >= 28 and head[8:12] == b"WAVE" and head[12:16] == b"fmt ":
            channels = int.from_bytes(head[22:24], "little")
            rate = int.from_bytes(head[24:28], "little")
            detail = f" ({rate} Hz, {channels} channel(s))"
        raise AudioSourceError(
            f"stdin: the data starts like a {found} file{detail}, not raw PCM; `--input -` reads headerless "
            f"signed 16-bit little-endian PCM at --rate {self.rate} Hz. Pass the file itself with --input FILE, or "
            "decode it first (e.g. ffmpeg -i in -f s16le -ac 1 -ar 16000 -)"
        )

    def chunks(self) -> Iterator[Chunk]:
        resample = Resampler(self.rate, self.sample_rate)
        downmix = DownmixCheck("stdin", self.rate)
        carry = b""
        head = b""
        read = getattr(self.stream, "read1", self.stream.read)
        while not self._stopped:
            data = read(self._chunk_bytes)
            if not data:
                if head and self.bytes_read < 32:
                    self._check_head(head)
                break
            if self.bytes_read < 32:
                head = (head + data)[:32]
                if len(head) >= 32 or self.bytes_read + len(data) >= 32:
                    self._check_head(head)
            self.bytes_read += len(data)
            data = carry + data
            usable = len(data) - len(data) % self._frame_bytes
            carry = data[usable:]
            if usable == 0:
                continue
            pcm = np.frombuffer(data[:usable], dtype="<i2").reshape(-1, self.channels).astype(np.float32) / 32768.0
            mono = to_mono(pcm)
            downmix.update(pcm)
            x = resample(mono)
            if x.shape[0]:
                yield x
        tail = resample(np.zeros(0, dtype=np.float32), last=True)
        if tail.shape[0]:
            yield tail

    def stop(self) -> None:
        self._stopped = True

    def close(self) -> None:
        self.stop()


def import_sounddevice() -> Any:
    """sounddevice, or an error that says how to install PortAudio."""
    try:
        import sounddevice as sd
    except OSError as exc:  # sounddevice raises OSError when libportaudio is missing
        raise AudioSourceError(f"PortAudio library not found ({exc}); {PORTAUDIO_HINT}") from exc
    return sd


def list_input_devices() -> list[dict[str, Any]]:
    """Input devices as PortAudio sees them: index, name, channels, default rate, host API, is default."""
    sd = import_sounddevice()
    try:
        devices = sd.query_devices()
        apis = sd.query_hostapis()
        default_in = sd.default.device[0]
    except sd.PortAudioError as exc:
        raise DeviceError(f"PortAudio cannot list devices ({exc})") from exc
    out = []
    for i, d in enumerate(devices):
        if d["max_input_channels"] > 0:
            out.append(
                {
                    "index": i,
                    "name": d["name"],
                    "channels": int(d["max_input_channels"]),
                    "default_samplerate": int(d["default_samplerate"]),
                    "hostapi": apis[d["hostapi"]]["name"],
                    "default": i == default_in,
                }
            )
    return out


def describe_devices(devices: list[dict[str, Any]]) -> str:
    if not devices:
        return "no input devices found (is a microphone plugged in? is the user in the 'audio' group?)"
    lines = ["input devices:"]
    for d in devices:
        mark = "*" if d["default"] else " "
        lines.append(f" {mark}{d['index']:3d}  {d['name']}  ({d['channels']} ch, {d['default_samplerate']} Hz)")
    return "\n".join(lines)


class MicSource:
    """The microphone: a PortAudio input stream feeding a ring buffer; reconnects when the device disappears."""

    live = True

    def __init__(
        self,
        sample_rate: int,
        device: int | str | None = None,
        ring_s: float = 10.0,
        poll_s: float = 0.05,
        stall_s: float = 2.0,
        max_backoff_s: float = 10.0,
        blocksize: int = 0,
        stream_factory: Callable[..., Any] | None = None,
    ) -> None:
        self.sample_rate = sample_rate
        self.device = device
        self.poll_s = poll_s
        self.stall_s = stall_s
        self.max_backoff_s = max_backoff_s
        self.blocksize = blocksize
        self.ring_s = ring_s
        self._factory = stream_factory
        self.overflows = 0
        self.reconnects = 0
        self.overruns = 0
        self.device_name = "?"
        self.device_rate = sample_rate
        self._stopped = False
        self._stream: Any = None
        self._ring: RingBuffer | None = None
        self._last_callback = 0.0
        self.last_adc_time = 0.0
        self._callback_error: str | None = None
        if self._factory is None:
            self._resolve_device()

    # -- device choice -------------------------------------------------------------------------------------------
    def _resolve_device(self) -> None:
        sd = import_sounddevice()
        try:
            info = sd.query_devices(self.device, kind="input")
        except (ValueError, sd.PortAudioError) as exc:
            raise DeviceError(f"input device {self.device!r}: {exc}\n{describe_devices(list_input_devices())}") from exc
        if info["max_input_channels"] < 1:
            raise DeviceError(f"device {self.device!r} has no input channels\n{describe_devices(list_input_devices())}")
        self.device_name = info["name"]
        try:
            sd.check_input_settings(device=self.device, samplerate=self.sample_rate, channels=1, dtype="float32")
            self.device_rate = self.sample_rate
        except Exception:  # noqa: BLE001 - PortAudio reports unsupported rates with several error types
            # Capture at the device's native rate and resample on the listener thread instead.
            self.device_rate = int(info["default_samplerate"])

    # -- the callback: copy, timestamp, flag; nothing else ---------------------------------------------------------
    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        ring = self._ring
        if ring is not None:
            ring.write(indata[:, 0])
        self._last_callback = time.monotonic()
        self.last_adc_time = getattr(time_info, "inputBufferAdcTime", 0.0)
        if status and status.input_overflow:
            self.overflows += 1

    def _finished(self) -> None:
        self._callback_error = "stream finished"

    def _open(self) -> None:
        self._ring = RingBuffer(max(1, int(self.ring_s * self.device_rate)))
        self._callback_error = None
        kwargs = dict(
            samplerate=self.device_rate,
            channels=1,
            dtype="float32",
            device=self.device,
            callback=self._callback,
            finished_callback=self._finished,
            blocksize=self.blocksize,
        )
        if self._factory is not None:
            stream = self._factory(**kwargs)
        else:
            sd = import_sounddevice()
            stream = sd.InputStream(**kwargs)
        self._last_callback = time.monotonic()
        stream.start()
        self._stream = stream

    def _close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.abort()
                stream.close()
            except Exception:  # noqa: BLE001 - a vanished device fails to close; it is gone either way
                pass

    def _rescan(self) -> None:
        """PortAudio reads the device list once at start-up; re-initialise it so a replugged device is seen."""
        if self._factory is not None:
            return
        sd = import_sounddevice()
        try:
            sd._terminate()
            sd._initialize()
            self._resolve_device()
        except Exception as exc:  # noqa: BLE001 - retried with backoff
            raise AudioSourceError(str(exc)) from exc

    def _alive(self) -> bool:
        stream = self._stream
        if stream is None or self._callback_error is not None:
            return False
        if not getattr(stream, "active", True):
            return False
        return time.monotonic() - self._last_callback < self.stall_s

    def _reconnect(self) -> float:
        """Reopen the device with exponential backoff; returns the seconds without audio."""
        lost_at = time.monotonic()
        backoff = 0.5
        log.warning("input device %r stopped delivering audio; reconnecting", self.device_name)
        self._close()
        while not self._stopped:
            time.sleep(backoff)
            try:
                self._rescan()
                self._open()
                self.reconnects += 1
                log.warning("input device %r is back after %.1f s", self.device_name, time.monotonic() - lost_at)
                return time.monotonic() - lost_at
            except Exception as exc:  # noqa: BLE001 - any failure to open is retried
                log.warning("reopening input device failed (%s); retrying in %.1f s", exc, backoff)
                self._close()
                backoff = min(self.max_backoff_s, backoff * 2)
        return time.monotonic() - lost_at

    def chunks(self) -> Iterator[Chunk]:
        try:
            self._open()
        except Exception as exc:
            sd = import_sounddevice() if self._factory is None else None
            if sd is not None and isinstance(exc, sd.PortAudioError):
                raise DeviceError(
                    f"cannot open {self.device_name!r}: {exc}\n{describe_devices(list_input_devices())}"
                ) from exc
            raise
        resample = Resampler(self.device_rate, self.sample_rate)
        read_pos = 0
        try:
            while not self._stopped:
                time.sleep(self.poll_s)
                ring = self._ring
                if ring is None:
                    break
                total = ring.total
                if read_pos < ring.oldest:
                    # The listener fell a whole ring behind: those samples were overwritten.
                    lost = ring.oldest - read_pos
                    self.overruns += 1
                    yield Gap(int(round(lost * self.sample_rate / self.device_rate)), dropped=True)
                    read_pos = ring.oldest
                if total > read_pos:
                    x = ring.read(read_pos, total - read_pos)
                    read_pos = total
                    y = resample(x)
                    if y.shape[0]:
                        yield y
                elif not self._alive():
                    gap_s = self._reconnect()
                    if self._stopped:
                        break
                    resample = Resampler(self.device_rate, self.sample_rate)
                    read_pos = 0
                    yield Gap(int(round(gap_s * self.sample_rate)), dropped=False)
        finally:
            self._close()

    def stop(self) -> None:
        self._stopped = True

    def close(self) -> None:
        self.stop()
        self._close()

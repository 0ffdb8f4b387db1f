"""Device entries of a node config: one model per device kind, chosen by `kind`, and the
device registry (`KINDS`): one row per kind naming its config model and its driver.

Ports are pyserial URLs (`/dev/serial/by-id/...`, `loop://`, `socket://host:port`,
`rfc2217://host:port`, `spy://...`), so simulated hardware is a configuration change.

A row names its driver as "module:Class", imported by `agent.devices.registry` only when a
node has such a device: the config (and `portedge check-config`) stays light, and a lane
without a camera never imports the HTTP listener.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Literal, Union, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SerialLine(_Options):
    baudrate: int = Field(default=9600, description="bits per second")
    bytesize: Literal[7, 8] = Field(default=8, description="data bits")
    parity: Literal["N", "E", "O"] = Field(default="N", description="none, even or odd")
    stopbits: Literal[1, 2] = Field(default=1, description="stop bits")

    @field_validator("baudrate")
    @classmethod
    def _standard_rate(cls, value: int) -> int:
        if value not in (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200):
            raise ValueError("not a standard serial rate (1200..115200)")
        return value


class DeviceSettings(_Options):
    """What every device entry has; `kind` (a Literal in each model) picks the model."""

    if TYPE_CHECKING:
        kind: str  # each model declares its own as a Literal, the union's tag

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
                      description="the device's name in records and in [gate] references")
    reconnect_base_s: float = Field(default=0.5, gt=0, description="first reopen delay after the port is lost")
    reconnect_cap_s: float = Field(default=30.0, gt=0, description="longest reopen delay")
    silence_timeout_s: float = Field(default=0.0, ge=0, description="0 = a silent port is not an error")


class SerialDevice(DeviceSettings):
    port: str = Field(min_length=1, description="pyserial URL or device path")
    line: SerialLine = Field(default_factory=SerialLine, description="serial line settings")

    @field_validator("port")
    @classmethod
    def _port_url(cls, value: str) -> str:
        if "://" in value:
            scheme = value.split("://", 1)[0]
            if scheme not in ("loop", "socket", "rfc2217", "spy", "alt", "hwgrep"):
                raise ValueError(f"unknown port URL scheme {scheme!r} (loop, socket, rfc2217, spy, alt, hwgrep)")
        elif not value.startswith("/") and not value.upper().startswith("COM"):
            raise ValueError("expected an absolute device path (/dev/serial/by-id/...) or a pyserial URL "
                             "(socket://host:port, rfc2217://host:port, loop://)")
        return value


class PlainScanner(SerialDevice):
    """Barcode scanner in plain serial ("data as is") mode."""

    kind: Literal["scanner"]
    terminator: Literal["CR", "LF", "CRLF", "ANY"] = "ANY"
    prefix: str = ""
    suffix: str = ""
    idle_timeout_s: float = Field(default=0.2, ge=0, description="a frame ends after this much silence; 0 = terminator only")
    max_length: int = Field(default=512, ge=8, le=8192)


class SsiScanner(SerialDevice):
    """Zebra/Symbol SSI scanner in packet mode."""

    kind: Literal["ssi_scanner"]
    ack_timeout_s: float = Field(default=2.0, gt=0)


class Indicator(SerialDevice):
    deadband_kg: float = Field(default=20.0, ge=0, description=(
        "a stable reading is a new weight event only when it moved more than this from the last one "
        "sent (an idle scale's noise is not an event); 0 = every change"))


class ToledoIndicator(Indicator):
    """Mettler Toledo continuous output weighbridge indicator."""

    kind: Literal["toledo"]
    short_format: bool = False


class YaohuaIndicator(Indicator):
    """Yaohua XK3190-A9 continuous mode weighbridge indicator (no motion flag)."""

    kind: Literal["yaohua"]
    unit: Literal["kg", "t"] = Field(default="kg", description=(
        "what the indicator is set to show (the frame does not say); only the contract's units that a "
        "weighbridge shows are accepted, so a reading is never published in a unit it is not in"))
    stable_readings: int = Field(default=5, ge=2, description="N readings within +-division ...")
    stable_window_s: float = Field(default=1.0, gt=0, description="... over T seconds")
    division: float = Field(default=20.0, gt=0, description="one scale division in the reported unit")


class GateIoMap(_Options):
    """Where each lane signal sits on the Modbus I/O module (0-based addresses)."""

    approach_loop: int = 0
    safety_loop: int = 1
    exit_loop: int = 2
    open_limit: int = 3
    closed_limit: int = 4
    photocell: int = 5
    estop: int = 6
    barrier_open: int = 16
    barrier_close: int = 17
    light_red: int = 18
    light_green: int = 19
    photocell_active_low: bool = Field(default=True, description="input ON = beam intact")
    estop_active_low: bool = Field(default=True, description="input ON = e-stop circuit closed (healthy)")


class GateIo(SerialDevice):
    """Modbus RTU digital I/O module wired to loops, barrier and lights."""

    kind: Literal["gate_io"]
    unit_id: int = Field(default=1, ge=1, le=247)
    poll_hz: float = Field(default=20.0, gt=0, le=200, description="input polls a second while anything can move")
    idle_poll_hz: float = Field(default=4.0, gt=0, le=200, description="input polls a second while the lane is at rest "
                                "(barrier down, loops and beam clear); at most poll_hz, and fast enough for the watchdog")
    timeout_s: float = Field(default=0.2, gt=0)
    map: GateIoMap = Field(default_factory=GateIoMap)


class Camera(DeviceSettings):
    """Plate or container OCR camera pushing reads as HTTP POST of JSON."""

    kind: Literal["camera"]
    listen: str = Field(default="127.0.0.1:8081", description="host:port to accept posts on")
    target: Literal["plate", "container"] = "plate"
    position: Literal["front", "rear", "top", "side", "unknown"] = "unknown"


class Wedge(DeviceSettings):
    """Keyboard-wedge scanner (text + Enter), as Android PDAs deliver scans. Fed by the app."""

    kind: Literal["wedge"]


class IdCardReader(SerialDevice):
    """Second-generation resident ID card reader (SAM serial protocol, agent/codecs/sam.py)."""

    kind: Literal["idcard_reader"]
    line: SerialLine = Field(default_factory=lambda: SerialLine(baudrate=115200))
    poll_s: float = Field(default=0.3, gt=0, description="how often the reader is asked to find a card")
    reply_timeout_s: float = Field(default=1.0, gt=0, description="a reply (a read takes ~0.12 s at 115200) must end within this")
    max_silent: int = Field(default=3, ge=1, description="unanswered commands in a row before the reader counts as gone")
    status_codes: dict[int, str] = Field(default_factory=dict, description="extra SW3 codes of this reader model -> meaning")


class BadgeReader(SerialDevice):
    """Staff badge reader behind a Wiegand-to-serial converter, raw-frame lines (agent/codecs/wiegand.py)."""

    kind: Literal["badge_reader"]


class TurnstileMap(_Options):
    """Where the turnstile's signals sit on its controller (0-based Modbus addresses)."""

    unlock: int = Field(default=0, ge=0, description="coil: ON unlocks for one passage, OFF relocks")
    buzzer: int = Field(default=1, ge=0, description="coil: tailgating buzzer")
    locked: int = Field(default=0, ge=0, description="input: the arm is locked")
    tailgate: int = Field(default=1, ge=0, description="input: tailgating sensor")
    fire_alarm: int = Field(default=2, ge=0, description="input: fire alarm (the arm is free)")
    occupied: int = Field(default=3, ge=0, description="input: someone in the passage")
    counter: int = Field(default=0, ge=0, description="input register: passages counted (mod 65536)")


class Turnstile(SerialDevice):
    """Pedestrian turnstile controller over Modbus RTU (serial or RTU-over-TCP)."""

    kind: Literal["turnstile"]
    line: SerialLine = Field(default_factory=lambda: SerialLine(baudrate=19200))
    unit_id: int = Field(default=1, ge=1, le=247)
    poll_hz: float = Field(default=20.0, gt=0, le=200)
    timeout_s: float = Field(default=0.2, gt=0)
    map: TurnstileMap = Field(default_factory=TurnstileMap)


@dataclass(frozen=True, slots=True)
class DeviceKind:
    """One row of the registry: a `kind` of `[[devices]]` entry, its config model and the
    driver that runs it ("module:Class"), or why nothing here drives it (`driver` None)."""

    model: type[DeviceSettings]
    driver: str | None
    not_driven: str = ""

    @property
    def kind(self) -> str:
        return get_args(self.model.model_fields["kind"].annotation)[0]


#: the device registry, in the order the docs list the kinds
KINDS: dict[str, DeviceKind] = {row.kind: row for row in (
    DeviceKind(PlainScanner, "agent.devices.scanner:PlainScannerDriver"),
    DeviceKind(SsiScanner, "agent.devices.ssi_scanner:SsiScannerDriver"),
    DeviceKind(ToledoIndicator, "agent.devices.weighbridge:ToledoDriver"),
    DeviceKind(YaohuaIndicator, "agent.devices.weighbridge:YaohuaDriver"),
    DeviceKind(GateIo, "agent.devices.gate_io:GateIoDriver"),
    DeviceKind(Camera, "agent.devices.camera:CameraDriver"),
    DeviceKind(Wedge, None, "keyboard-wedge scans are fed by the PDA app, not read from a port"),
    DeviceKind(IdCardReader, "agent.devices.idcard_reader:IdCardReaderDriver"),
    DeviceKind(BadgeReader, "agent.devices.badge_reader:BadgeReaderDriver"),
    DeviceKind(Turnstile, "agent.devices.turnstile:TurnstileDriver"),
)}

DEVICE_KINDS: tuple[str, ...] = tuple(KINDS)

if TYPE_CHECKING:  # the checker sees what every entry has; code narrows with isinstance
    DeviceConfig = DeviceSettings
else:  # pydantic sees the union of the registry's models, chosen by `kind`
    DeviceConfig = Annotated[Union[tuple(row.model for row in KINDS.values())], Field(discriminator="kind")]  # noqa: UP007

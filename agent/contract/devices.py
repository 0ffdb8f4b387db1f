"""Readings from devices: barcode scans, weights, camera (OCR) reads."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from agent.contract.envelope import Strict


class Scan(Strict):
    """One decoded barcode."""

    device: str
    data: str = Field(max_length=4096)
    symbology: str | None = Field(default=None, description="AIM identifier, e.g. ']C1', when known")
    barcode_type: str | None = Field(default=None, description="e.g. 'code128', 'gs1_datamatrix'")


#: where on the truck a container (or a plate) was read
ContainerPosition = Literal["front", "rear", "top", "side", "unknown"]
WeightUnit = Literal["kg", "lb", "t", "g"]
#: kilograms per unit, for every unit a Weight may carry
KG_PER_UNIT: dict[str, float] = {"kg": 1.0, "t": 1000.0, "lb": 0.45359237, "g": 0.001}


class Weight(Strict):
    """One weighbridge reading, in the unit the indicator shows (see docs/platform-integration.md,
    "Weights": sent on the first reading, when stable changes, and when a stable reading moves
    more than the device's deadband)."""

    device: str
    value: float
    unit: WeightUnit
    mode: Literal["gross", "net"]
    stable: bool
    tare: float | None = None
    out_of_range: bool = False


class CameraRead(Strict):
    """A camera's OCR read of a plate or a container number."""

    device: str
    target: Literal["plate", "container"]
    text: str = Field(max_length=32)
    confidence: float = Field(ge=0, le=1)
    position: ContainerPosition = "unknown"
    image_ref: str | None = Field(default=None, max_length=512)

"""Scanner input behind one interface: every source hands whole barcodes to one
`deliver(text, source)` (the app turns it into `presenter.scan`), so past this point a scan is
a scan, whichever way it came:

- wedge (`WedgeInput`): the handheld's imager types the code as keystrokes + Enter into the
  Kivy window; `pda_app.wedge.WedgeBuffer` frames it. The default everywhere.
- serial: a ring scanner over Bluetooth SPP or USB serial (`[[devices]]` kind `ssi_scanner`
  or `scanner` in the PDA's config) is read by the agent's own drivers, which
  hand each Scan to `PdaCore`, which calls the same presenter intent (pda_app/core.py).
- intent (`IntentInput`): the vendor's scan service broadcasts each read as an Android intent
  with the data in an extra. `on_intent(action, extras)` is the hook: on Android the app
  registers a BroadcastReceiver (python-for-android's `android.broadcast`) for the actions in
  `VENDOR_INTENTS` and passes every intent to it; anything else (a test, another vendor's SDK)
  may call it directly. Set the scanner's output to "intent" in the vendor's settings app.

Must never drop a partial barcode into `deliver`, and never block the UI loop.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from pda_app.wedge import ENTER_KEYS, WedgeBuffer

log = logging.getLogger(__name__)

Deliver = Callable[[str, str], None]


class ScanInput(Protocol):
    name: str

    def start(self, deliver: Deliver) -> None: ...

    def stop(self) -> None: ...


class WedgeInput:
    """Keystrokes into the Kivy window. `typing` says when a text field has the keyboard (the
    exception note): then keys are the driver's, not the scanner's."""

    name = "wedge"

    def __init__(self, typing: Callable[[], bool] = lambda: False):
        self.buffer = WedgeBuffer()
        self._typing = typing
        self._deliver: Deliver | None = None

    def start(self, deliver: Deliver) -> None:
        from kivy.core.window import Window

        self._deliver = deliver
        Window.bind(on_textinput=self._on_textinput, on_key_down=self._on_key_down)

    def stop(self) -> None:
        from kivy.core.window import Window

        Window.unbind(on_textinput=self._on_textinput, on_key_down=self._on_key_down)
        self._deliver = None

    def _on_textinput(self, _window, text: str):
        if not self._typing():
            self.buffer.text(text)

    def _on_key_down(self, _window, key: int, *_args):
        if key in ENTER_KEYS and not self._typing():
            data = self.buffer.enter()
            if data and self._deliver is not None:
                self._deliver(data, self.name)
            return True
        return False


@dataclass(frozen=True)
class VendorIntent:
    action: str  # the broadcast action the vendor's scan service sends
    data_extra: str  # the extra holding the decoded text


#: defaults of the vendors' scan services (unverified on hardware here: check the device's
#: manual; Zebra's action is whatever the DataWedge profile sets, this is ours)
VENDOR_INTENTS: dict[str, VendorIntent] = {
    "zebra": VendorIntent("com.portedge.pda.SCAN", "com.symbol.datawedge.data_string"),
    "honeywell": VendorIntent("com.honeywell.decode.intent.action.EDIT_DATA", "data"),
    "urovo": VendorIntent("android.intent.ACTION_DECODE_DATA", "barcode_string"),
}
MAX_SCAN = 512


class IntentInput:
    """Android scan intents from the handheld's own scan service."""

    name = "intent"

    def __init__(self, vendors: Mapping[str, VendorIntent] = VENDOR_INTENTS):
        self.vendors = dict(vendors)
        self.counters: Counter[str] = Counter()
        self._deliver: Deliver | None = None
        self._receiver: Any = None

    def start(self, deliver: Deliver) -> None:
        self._deliver = deliver
        try:
            from android.broadcast import BroadcastReceiver  # only in a python-for-android build
        except ImportError:
            log.debug("not Android: scan intents are off (the wedge and serial scanners still work)")
            return
        actions = [v.action for v in self.vendors.values()]
        self._receiver = BroadcastReceiver(self._on_broadcast, actions=actions)
        self._receiver.start()

    def stop(self) -> None:
        if self._receiver is not None:
            self._receiver.stop()
            self._receiver = None
        self._deliver = None

    def _on_broadcast(self, _context, intent) -> None:  # pragma: no cover - Android only
        extras = intent.getExtras()
        keys = {v.data_extra for v in self.vendors.values()}
        values = {k: extras.getString(k) for k in keys if extras is not None and extras.containsKey(k)}
        self.on_intent(str(intent.getAction()), values)

    def on_intent(self, action: str, extras: Mapping[str, Any]) -> bool:
        """One broadcast from a scan service; True when it carried a scan that was delivered."""
        vendor = next((name for name, v in self.vendors.items() if v.action == action), None)
        if vendor is None:
            self.counters["other_action"] += 1
            return False
        data = extras.get(self.vendors[vendor].data_extra)
        if not isinstance(data, str) or not data.strip():
            self.counters["no_data"] += 1
            return False
        if len(data) > MAX_SCAN:
            self.counters["overlong"] += 1
            return False
        self.counters[vendor] += 1
        if self._deliver is not None:
            self._deliver(data.strip(), f"{self.name}:{vendor}")
        return True

"""The accessibility tree of a desktop session's apps, read over AT-SPI's D-Bus API (jeepney, no GObject).

The session bus's ``org.a11y.Bus.GetAddress`` names the AT-SPI bus; on it the registry's root lists the apps, and
each accessible answers ``GetRoleName``, ``GetChildren``, the ``Name`` property and ``Component.GetExtents``
(screen coordinates). Nodes outside the screen (closed menus report INT_MIN) have no box. A node with very many
children (a spreadsheet's cells: its ``ChildCount`` is read first, since listing them keeps the app busy for
minutes) is not walked into, as OSWorld's own tree reader bounds it. ``linearized`` writes
the tree in the tab-separated form of OSWorld's ``linearize_accessibility_tree`` (tag, name, position, size).
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, Field

from guiagent.envs.base import EnvError

REGISTRY = ("org.a11y.atspi.Registry", "/org/a11y/atspi/accessible/root")
ACCESSIBLE, COMPONENT = "org.a11y.atspi.Accessible", "org.a11y.atspi.Component"
MAX_CHILDREN = 300  # a node with more children (a sheet's cells) is not walked into
# ARIA roles (as browser targets name them) -> AT-SPI role names.
ROLE_ALIASES = {"button": "push button", "textbox": "text", "menuitem": "menu item", "checkbox": "check box",
                "combobox": "combo box", "tab": "page tab", "radio": "radio button", "img": "image",
                "menubar": "menu bar", "listitem": "list item", "spinbutton": "spin button"}


class A11yNode(BaseModel):
    """One accessible: its role, name and box on the screen (x, y, width, height; None when not on screen)."""

    role: str
    name: str = ""
    box: tuple[int, int, int, int] | None = None
    depth: int = 0
    path: str = Field(description="Roles from the app down to this node, / separated.")

    @property
    def center(self) -> tuple[float, float] | None:
        if self.box is None:
            return None
        x, y, w, h = self.box
        return x + w / 2, y + h / 2


class A11yTree:
    """A connection to a session's AT-SPI bus; ``nodes()`` reads the apps' trees as they are now."""

    def __init__(self, session_bus: str, max_nodes: int = 3000) -> None:
        self.session_bus, self.max_nodes = session_bus, max_nodes
        self._conn: Any = None

    def _connection(self) -> Any:
        if self._conn is None:
            from jeepney import DBusAddress, new_method_call
            from jeepney.io.blocking import open_dbus_connection

            try:
                with open_dbus_connection(bus=self.session_bus) as session:
                    call = new_method_call(DBusAddress("/org/a11y/bus", bus_name="org.a11y.Bus", interface="org.a11y.Bus"),
                                           "GetAddress")
                    address = session.send_and_get_reply(call, timeout=5).body[0]
                self._conn = open_dbus_connection(bus=address)
            except Exception as exc:
                raise EnvError(f"cannot reach the session's AT-SPI bus: {exc}") from None
        return self._conn

    def _call(self, bus: str, path: str, interface: str, method: str, signature: str | None = None,
              body: tuple[Any, ...] = ()) -> Any:
        from jeepney import DBusAddress, new_method_call

        message = new_method_call(DBusAddress(path, bus_name=bus, interface=interface), method, signature, body)
        return self._connection().send_and_get_reply(message, timeout=5).body

    def _property(self, bus: str, path: str, name: str) -> Any:
        from jeepney import DBusAddress, Properties

        message = Properties(DBusAddress(path, bus_name=bus, interface=ACCESSIBLE)).get(name)
        return self._connection().send_and_get_reply(message, timeout=5).body[0][1]

    def _name(self, bus: str, path: str) -> str:
        return str(self._property(bus, path, "Name")).strip()

    def _box(self, bus: str, path: str) -> tuple[int, int, int, int] | None:
        try:
            x, y, w, h = self._call(bus, path, COMPONENT, "GetExtents", "u", (0,))[0]
        except Exception:
            return None  # not a component (an application)
        return (x, y, w, h) if w > 1 and h > 1 and x > -10000 and y > -10000 else None

    def nodes(self) -> list[A11yNode]:
        """Every app's accessibles, depth first (at most ``max_nodes``); nodes that vanish meanwhile are left out."""
        found: list[A11yNode] = []
        apps = self._call(*REGISTRY, ACCESSIBLE, "GetChildren")[0]
        stack = [(bus, path, 0, "") for bus, path in reversed(apps)]
        while stack and len(found) < self.max_nodes:
            bus, path, depth, above = stack.pop()
            try:
                role = str(self._call(bus, path, ACCESSIBLE, "GetRoleName")[0])
                node = A11yNode(role=role, name=self._name(bus, path), box=self._box(bus, path), depth=depth,
                                path=f"{above}/{role}" if above else role)
                # the count first: listing a sheet's billion cells keeps the app busy for minutes
                many = int(self._property(bus, path, "ChildCount")) > MAX_CHILDREN
                children = [] if many else self._call(bus, path, ACCESSIBLE, "GetChildren")[0]
            except Exception:
                continue  # gone while we read it
            found.append(node)
            stack += [(b, p, depth + 1, node.path) for b, p in reversed(children)]
        return found

    def find(self, role: str | None, name: str | None, text: str | None, exact: bool = False) -> A11yNode | None:
        """The first on-screen node with this role (ARIA names accepted) and name (or text: the name shown)."""
        wanted_role = ROLE_ALIASES.get(role, role) if role else None
        wanted = name if name is not None else text
        for node in self.nodes():
            if node.box is None or (wanted_role is not None and node.role != wanted_role):
                continue
            if wanted is None or _matches(node.name, wanted, exact):
                return node
        return None

    def wait_for(self, role: str | None, name: str | None, text: str | None, exact: bool, timeout: float) -> A11yNode | None:
        """``find``, polled until it finds the node or ``timeout`` seconds have passed."""
        deadline = time.monotonic() + timeout
        while True:
            if (node := self.find(role, name, text, exact)) is not None or time.monotonic() >= deadline:
                return node
            time.sleep(0.1)

    def at(self, point: tuple[float, float]) -> A11yNode | None:
        """The deepest named on-screen node whose box holds ``point``."""
        x, y = point
        hits = [n for n in self.nodes() if n.box and n.name and n.box[0] <= x < n.box[0] + n.box[2]
                and n.box[1] <= y < n.box[1] + n.box[3]]
        return max(hits, key=lambda n: n.depth) if hits else None

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None


def _matches(have: str, want: str, exact: bool) -> bool:
    return have == want if exact else want.casefold() in have.casefold()


def linearized(nodes: list[A11yNode]) -> str:
    """The on-screen named nodes as OSWorld's linearized tree: ``tag\\tname\\tposition (top-left x&y)\\tsize (w&h)``."""
    rows = ["tag\tname\tposition (top-left x&y)\tsize (w&h)"]
    for n in nodes:
        if n.box is not None and (n.name or n.role in ("push button", "text", "entry")):
            x, y, w, h = n.box
            rows.append(f"{n.role}\t{n.name}\t({x}, {y})\t({w}, {h})")
    return "\n".join(rows)

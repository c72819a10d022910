"""Window titles on an X display, read with python-xlib: the top-level windows, the active one, a window's title
(a window manager's client list and active window when one runs; else the mapped top-level windows, the focus
and the pointer)."""

from __future__ import annotations

from typing import Any


def windows(x: Any, managed: bool) -> dict[int, str]:
    """Top-level windows with a title: {id: title} (a window manager's client list when one runs: it
    reparents the apps' windows into frames of its own)."""
    from Xlib import X

    found = {}
    clients = _wm_property(x, managed, "_NET_CLIENT_LIST")
    if clients is not None:
        for wid in clients:
            try:
                if title := title_of(x, x.create_resource_object("window", wid)):
                    found[int(wid)] = title
            except Exception:
                continue
        return found
    try:
        children = x.screen().root.query_tree().children
    except Exception:
        return {}
    for child in children:
        try:
            if child.get_attributes().map_state == X.IsViewable and (name := child.get_wm_name()):
                found[child.id] = name if isinstance(name, str) else name.decode(errors="replace")
        except Exception:
            continue  # a window that went away meanwhile
    return found

def active_title(x: Any, managed: bool) -> str | None:
    """The active window's title. No window manager runs under Xvfb, so: the window with the input
    focus, else the top-level window under the pointer (focus follows the pointer there)."""
    active = _wm_property(x, managed, "_NET_ACTIVE_WINDOW")
    if active:
        try:
            return title_of(x, x.create_resource_object("window", active[0]))
        except Exception:
            return None
    try:
        focus = x.get_input_focus().focus
        title = title_of(x, focus) if hasattr(focus, "query_tree") else None
        if title is None:
            title = title_of(x, x.screen().root.query_pointer().child)
        return title
    except Exception:
        return None

def _wm_property(x: Any, managed: bool, name: str) -> list[int] | None:
    """A window manager's list property on the root window, or None without one."""
    if not managed:
        return None
    try:
        prop = x.screen().root.get_full_property(x.intern_atom(name), 0)
    except Exception:
        return None
    return [int(v) for v in prop.value] if prop is not None else None

def title_of(x: Any, window: Any) -> str | None:
    """The title of ``window`` or of the nearest ancestor that has one."""
    for _ in range(20):
        if not window or not hasattr(window, "get_wm_name"):
            return None
        name = _utf8_title(x, window) or window.get_wm_name()
        if name:
            return name if isinstance(name, str) else name.decode(errors="replace")
        tree = window.query_tree()
        if not tree.parent or tree.parent == tree.root:
            return None
        window = tree.parent
    return None


def _utf8_title(x: Any, window: Any) -> str | None:
    """_NET_WM_NAME (UTF-8), which GTK and LibreOffice set; WM_NAME may hold only Latin-1."""
    prop = window.get_full_property(x.intern_atom("_NET_WM_NAME"), x.intern_atom("UTF8_STRING"))
    if prop is None or not prop.value:
        return None
    value = prop.value
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)

"""The bundled desktop demo: a Tk window with a form, a choice, and a square to drag.

    python -m guiagent.agent.demo.desktop_app [STATE.json]

Every control sits at a fixed position (1280x800 window at +0+0). The state is saved to STATE.json
on each change and read back on start, so a resumed episode finds the app as it was. When Save is
pressed, the title says whether the task is complete: the task's success check reads it.
"""

from __future__ import annotations

import json
import os
import sys
import tkinter as tk

TITLE = "Desktop demo"
GOAL = {"name": "naïve café", "subscribe": True, "colour": "Blue", "square_on_target": True}
TARGET = (1000, 500, 1150, 650)  # canvas coordinates (the canvas sits at +600+100)


class DemoApp:
    def __init__(self, root: tk.Tk, path: str | None) -> None:
        self.root, self.path = root, path
        saved = json.load(open(path)) if path and os.path.exists(path) else {}
        root.title(saved.get("title", TITLE))
        root.geometry("1280x800+0+0")
        tk.Label(root, text="Name", anchor="w").place(x=100, y=74, width=200, height=24)
        self.name = tk.Entry(root, font=("DejaVu Sans", 14))
        self.name.place(x=100, y=100, width=400, height=32)
        self.name.insert(0, saved.get("name", ""))
        self.name.bind("<KeyRelease>", lambda e: self.save())
        self.subscribe = tk.BooleanVar(value=saved.get("subscribe", False))
        tk.Checkbutton(root, text="Subscribe", variable=self.subscribe, anchor="w", command=self.save).place(
            x=100, y=160, width=200, height=40)
        self.colour = tk.StringVar(value=saved.get("colour", "Red"))
        for i, colour in enumerate(("Red", "Green", "Blue")):
            tk.Radiobutton(root, text=colour, value=colour, variable=self.colour, anchor="w", command=self.save).place(
                x=100, y=240 + 40 * i, width=200, height=36)
        tk.Button(root, text="Save", command=self.press_save).place(x=100, y=400, width=200, height=44)
        self.canvas = tk.Canvas(root, bg="#eef")
        self.canvas.place(x=600, y=100, width=600, height=600)
        self.canvas.create_rectangle(*[v - (600 if i % 2 == 0 else 100) for i, v in enumerate(TARGET)],
                                     outline="#484", width=3, dash=(6, 4))
        x, y = saved.get("square", (50, 50))
        self.square = self.canvas.create_rectangle(x, y, x + 80, y + 80, fill="#e94", outline="")
        self.canvas.tag_bind(self.square, "<ButtonPress-1>", self._grab)
        self.canvas.bind("<B1-Motion>", self._drag)
        self.canvas.bind("<ButtonRelease-1>", self._drop)
        self._grabbed: tuple[float, float] | None = None

    def _grab(self, e: tk.Event) -> None:
        x0, y0, _, _ = self.canvas.coords(self.square)
        self._grabbed = (e.x - x0, e.y - y0)

    def _drag(self, e: tk.Event) -> None:
        if self._grabbed:
            dx, dy = self._grabbed
            self.canvas.coords(self.square, e.x - dx, e.y - dy, e.x - dx + 80, e.y - dy + 80)

    def _drop(self, e: tk.Event) -> None:
        if self._grabbed:
            self._grabbed = None
            self.save()

    def state(self) -> dict:
        x0, y0, _, _ = self.canvas.coords(self.square)
        cx, cy = x0 + 40 + 600, y0 + 40 + 100  # the square's centre, in window coordinates
        on_target = TARGET[0] <= cx <= TARGET[2] and TARGET[1] <= cy <= TARGET[3]
        return {"name": self.name.get(), "subscribe": self.subscribe.get(), "colour": self.colour.get(),
                "square": [x0, y0], "square_on_target": on_target, "title": self.root.title()}

    def press_save(self) -> None:
        state = self.state()
        complete = all(state[k] == v for k, v in GOAL.items())
        title = f"{TITLE} - saved, {'complete' if complete else 'incomplete'}"
        # the file first: the title is what a success check waits for, and the episode may end (and this
        # app be stopped) as soon as it shows
        self.save(title)
        self.root.title(title)

    def save(self, title: str | None = None) -> None:
        if self.path:
            state = self.state() | ({"title": title} if title else {})
            tmp = self.path + ".tmp"
            with open(tmp, "w") as f:
                json.dump(state, f, ensure_ascii=False)
            os.replace(tmp, self.path)


def main() -> None:
    root = tk.Tk()
    DemoApp(root, sys.argv[1] if len(sys.argv) > 1 else None)
    root.mainloop()


if __name__ == "__main__":
    main()

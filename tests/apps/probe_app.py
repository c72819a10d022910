"""A real Tk window that records every input it gets into a JSON file (argv[1]), for the desktop tests.

Layout (window at +0+0 on a 1280x800 screen, no window manager):
- button "Press" at x 100..220, y 100..140
- entry at x 100..500, y 200..232
- canvas at x 600..1200, y 100..700 logs presses, wheel and drags (root coordinates)
"""

import json
import sys
import tkinter as tk

out = sys.argv[1]
title = sys.argv[2] if len(sys.argv) > 2 else "Probe"
state = {"presses": [], "button_clicks": 0, "keys": [], "wheel": [], "drags": [], "doubles": 0, "triples": 0, "text": ""}


def save(*_):
    state["text"] = entry.get()
    with open(out + ".tmp", "w") as f:
        json.dump(state, f)
    import os

    os.replace(out + ".tmp", out)


root = tk.Tk()
root.title(title)
root.geometry(sys.argv[3] if len(sys.argv) > 3 else "1280x800+0+0")
button = tk.Button(root, text="Press", command=lambda: (state.__setitem__("button_clicks", state["button_clicks"] + 1), save()))
button.place(x=100, y=100, width=120, height=40)
entry = tk.Entry(root, font=("DejaVu Sans", 14))
entry.place(x=100, y=200, width=400, height=32)
entry.bind("<KeyRelease>", save)
canvas = tk.Canvas(root, bg="#dde")
canvas.place(x=600, y=100, width=600, height=600)


def press(e):
    state["presses"].append({"button": e.num, "x": e.x_root, "y": e.y_root})
    if e.num == 1:
        state["drags"].append({"from": [e.x_root, e.y_root]})
    save()


def release(e):
    if e.num == 1 and state["drags"]:
        state["drags"][-1]["to"] = [e.x_root, e.y_root]
    save()


def wheel(e):
    entry = {"button": e.num, "x": e.x_root, "y": e.y_root}
    if e.state & 1:  # Tk 8.6 delivers X's horizontal wheel (buttons 6, 7) as 4, 5 with Shift
        entry["horizontal"] = True
    state["wheel"].append(entry)
    save()


canvas.bind("<ButtonPress-1>", press)
canvas.bind("<ButtonPress-2>", press)
canvas.bind("<ButtonPress-3>", press)
canvas.bind("<ButtonRelease-1>", release)
canvas.bind("<Button-4>", wheel)
canvas.bind("<Button-5>", wheel)
canvas.bind("<Double-Button-1>", lambda e: (state.__setitem__("doubles", state["doubles"] + 1), save()))
canvas.bind("<Triple-Button-1>", lambda e: (state.__setitem__("triples", state["triples"] + 1), save()))
root.bind_all("<KeyPress>", lambda e: (state["keys"].append({"keysym": e.keysym, "state": e.state}), save()))
root.after(50, save)
root.mainloop()

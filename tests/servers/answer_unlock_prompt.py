#!/usr/bin/python3
"""Answers gnome-keyring's "Unlock Login Keyring" prompt as a person would: waits up to argv[1]
seconds for the prompter's window, then types the password read from standard input and Enter
(XTest key events, since Xvfb runs no window manager). Exits 1 if no prompt appeared."""

import sys
import time

from Xlib import X, XK, display
from Xlib.ext import xtest

wait = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
password = sys.stdin.read()
d = display.Display()
root = d.screen().root


def find(win):
    try:
        name = win.get_wm_name()
        if isinstance(name, str) and name.startswith("Unlock"):
            return win
        for child in win.query_tree().children:
            found = find(child)
            if found:
                return found
    except Exception:
        pass
    return None


deadline = time.monotonic() + wait
win = find(root)
while win is None and time.monotonic() < deadline:
    time.sleep(0.1)
    win = find(root)
if win is None:
    sys.exit("no unlock prompt appeared")
geometry = win.get_geometry()
win.set_input_focus(X.RevertToParent, X.CurrentTime)
xtest.fake_input(d, X.MotionNotify, x=geometry.x + geometry.width // 2, y=geometry.y + geometry.height // 2)
d.sync()
# The prompter maps its window before its entry takes keys.
time.sleep(0.3)


def press(keysym):
    code = d.keysym_to_keycode(keysym)
    shift = d.keysym_to_keycode(XK.XK_Shift_L)
    upper = keysym != XK.NoSymbol and d.keycode_to_keysym(code, 0) != keysym
    if upper:
        xtest.fake_input(d, X.KeyPress, shift)
    xtest.fake_input(d, X.KeyPress, code)
    xtest.fake_input(d, X.KeyRelease, code)
    if upper:
        xtest.fake_input(d, X.KeyRelease, shift)


# Printable Latin-1 characters are their own keysyms.
for ch in password:
    press(ord(ch))
press(XK.XK_Return)
d.sync()

#!/usr/bin/python3
"""Asks the X window titled argv[1] to close, the way a window manager's close button does
(a WM_DELETE_WINDOW client message), since Xvfb runs no window manager. Exits 1 if not found."""

import sys

from Xlib import X, display, protocol

title = sys.argv[1]
d = display.Display()
root = d.screen().root
wm_protocols = d.intern_atom("WM_PROTOCOLS")
wm_delete = d.intern_atom("WM_DELETE_WINDOW")


def find(win):
    try:
        if win.get_wm_name() == title and wm_delete in (win.get_wm_protocols() or []):
            return win
        for child in win.query_tree().children:
            found = find(child)
            if found:
                return found
    except Exception:
        pass
    return None


win = find(root)
if win is None:
    sys.exit(f"no window titled {title!r}")
event = protocol.event.ClientMessage(window=win, client_type=wm_protocols, data=(32, [wm_delete, X.CurrentTime, 0, 0, 0]))
win.send_event(event, event_mask=X.NoEventMask)
d.flush()

"""The phone app (docs/web-app.md): served by a board with Wi-Fi whose board
file says "web": true; make flash leaves this package off every other board.
Nothing here runs inside a tick except web/remote.py's poll and
web/link.py's sample, both integer-only."""

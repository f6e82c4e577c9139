"""Session history on the host: import the board's session log
(docs/session-log.md), keep it in SQLite, report it (HTML, PNG, terminal)
and plan what to do now from it and the schedule.

    python -m tools.sessions [--db sessions.db] import FILE [FILE ...]
    python -m tools.sessions add SEQ [--board ID] [--volume-ml X] [--note TEXT]
    python -m tools.sessions add --start YYYY-MM-DDTHH:MM [--duration-min M] [--program P] [--volume-ml X]
    python -m tools.sessions report [--out DIR] [--days N] [--schedule profiles.json] [--now T]
    python -m tools.sessions plan [--now T] [--schedule profiles.json]
"""

"""The forklift driver's handheld app (Kivy). It runs the agent core in-process and talks to
the task board only through `pda_app.presenter`; it must never open a serial port or SQLite
itself."""

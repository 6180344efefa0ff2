"""Test support shared by tests/ and bench/: local emulators of the networks webcare talks to (started
on 127.0.0.1), and kits (console_kit, listen_kit, fuzz_inputs). Not shipped: the wheel's package list
leaves it out, and no package of webcare imports it (tests/test_architecture.py checks both directions).
"""

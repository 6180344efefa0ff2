"""Local emulators of the networks webcare talks to, started by the tests on 127.0.0.1."""

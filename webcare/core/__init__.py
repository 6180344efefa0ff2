"""The shared vocabulary of webcare: errors, message types, labels, secrets redaction, text helpers.

A leaf: nothing here imports any other part of webcare, so every package (store, nlu, bot,
listeners, console) may import from it and imports still point downward only
(tests/test_architecture.py checks this).
"""

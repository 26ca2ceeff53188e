"""Custom actions of the banking assistant (rasa-sdk action server).

The action server imports every module of this package; each `Action` subclass
registers itself by its `name()`.
"""

"""Exceptions raised while reading scene descriptions.

`SceneError` is a `ValueError`: bad scene input (a malformed file, an ill-typed or unknown
property, a dangling reference). Its message names where the problem is: ``file.xml:LINE`` for
XML scenes, ``dict key 'a.b.c'`` for dict scenes.
"""


class SceneError(ValueError):
    """Bad scene input; the message names the file:line or the dict key path."""


class PluginNotFoundError(SceneError):
    """A plugin ``type`` that no registered plugin class provides."""

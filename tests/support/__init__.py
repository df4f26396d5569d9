"""Helpers the tests share: the real service as a subprocess, free loopback ports."""

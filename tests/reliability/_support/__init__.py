"""Harnesses shared by the reliability tests: the app process, raw HTTP, fault servers."""

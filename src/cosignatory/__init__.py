"""Cosignatory: a public, verifiable register of joint letters."""

__version__ = "0.1.0"

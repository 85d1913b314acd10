"""The directory service: who may ask (see README.md)."""

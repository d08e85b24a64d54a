"""The upload-link pages' limiter lives in the base layer, shared with the password reset."""

from portal.ratelimit import client_ip, hit

__all__ = ["client_ip", "hit"]

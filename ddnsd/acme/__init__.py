"""ACME DNS-01: challenge arithmetic, the challenge service, propagation, journal, hooks.

Kept empty of imports so that ``ddnsd.acme.hooks`` (the hook path) starts fast;
import the submodules directly: ``from ddnsd.acme.service import ChallengeService``.
"""

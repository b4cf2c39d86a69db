"""Protocol-exact gateway simulators shipped with kpay for the demo and the tests.

They run inside kpay's process under ``/simulators/`` but talk to it only over HTTP,
with their own keys, exactly as the real gateways do. Never installed in production.
"""

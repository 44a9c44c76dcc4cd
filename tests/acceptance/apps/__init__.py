"""Workflow modules that the acceptance tests load into ``plait worker`` subprocesses.

Workers import them as ``apps.<module>`` (the tests put ``tests/acceptance`` on ``PYTHONPATH``);
the test process imports the same files as ``acceptance.apps.<module>``, so they import each other
relatively.
"""
